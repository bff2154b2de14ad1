import { type Bus, connectNatsBus, eventsSubject, type Logger, silentLogger } from "@vigil/common";
import {
  ElasticsearchSink,
  type ElasticsearchSinkConfig,
  HubService,
  type HubServiceOptions,
  hubConfigSchema,
  type RunningHub,
  startHub,
} from "@vigil/hub";
import { BusEventBatch, type CanonicalEvent } from "@vigil/proto";
import { ElasticsearchDouble } from "../doubles/elasticsearch-double.ts";
import { type NatsServerHandle, startNatsServer } from "./nats-server.ts";

// Hub suites and benches on one real nats-server (and, when asked for, the
// loopback Elasticsearch double): bus connections, sinks and hubs made here
// are stopped by stop(), hubs first, so no test leaves a consumer, a
// connection or a server behind. Loaded by benches too, so no TypeScript-only
// syntax (parameter properties) and relative imports name their .ts file.

export interface HubOnNatsOptions {
  /** Start the Elasticsearch double as well. */
  elasticsearch?: boolean;
  logger?: Logger;
}

export class HubOnNats {
  readonly nats: NatsServerHandle;
  readonly logger: Logger;
  private readonly esDouble: ElasticsearchDouble | undefined;
  private readonly hubs: Array<{ stop(): Promise<void> }> = [];
  private readonly sinks: ElasticsearchSink[] = [];
  private readonly buses: Bus[] = [];
  private readonly closers: Array<() => Promise<void>> = [];

  private constructor(nats: NatsServerHandle, es: ElasticsearchDouble | undefined, logger: Logger) {
    this.nats = nats;
    this.esDouble = es;
    this.logger = logger;
  }

  static async start(options: HubOnNatsOptions = {}): Promise<HubOnNats> {
    const nats = await startNatsServer();
    try {
      const es = options.elasticsearch === true ? await ElasticsearchDouble.start() : undefined;
      return new HubOnNats(nats, es, options.logger ?? silentLogger());
    } catch (error) {
      await nats.stop();
      throw error;
    }
  }

  get es(): ElasticsearchDouble {
    if (this.esDouble === undefined)
      throw new Error("HubOnNats.start() was not asked for { elasticsearch: true }");
    return this.esDouble;
  }

  /** A bus connection named `name`, to the server or to `port` (a proxy in front of it). */
  async connect(name: string, port = this.nats.port): Promise<Bus> {
    const bus = await connectNatsBus({ servers: [`nats://127.0.0.1:${port}`], name, logger: this.logger });
    this.buses.push(bus);
    return bus;
  }

  /** An Elasticsearch sink writing to the double. */
  elasticsearchSink(config: Partial<ElasticsearchSinkConfig> = {}): ElasticsearchSink {
    const sink = new ElasticsearchSink({ config: { ...config, nodes: [this.es.url] } });
    this.sinks.push(sink);
    return sink;
  }

  /** A started HubService logging to this harness's logger. */
  async startHubService(options: Omit<HubServiceOptions, "logger">): Promise<HubService> {
    const hub = new HubService({ ...options, logger: this.logger });
    this.hubs.push(hub);
    await hub.start();
    return hub;
  }

  /**
   * The hub as `vigil-hub` runs it (startHub), on a connection of its own;
   * `config` is the hub config shape, its Elasticsearch pointed at the double
   * when there is one.
   */
  async startHub(config: Record<string, unknown>): Promise<RunningHub> {
    const elasticsearch =
      this.esDouble === undefined
        ? config.elasticsearch
        : { ...(config.elasticsearch as Record<string, unknown> | undefined), nodes: [this.esDouble.url] };
    const parsed = hubConfigSchema.parse({ ...config, elasticsearch });
    const hub = await startHub(parsed, await this.connect(parsed.hubId), this.logger);
    this.hubs.push(hub);
    return hub;
  }

  /** Something else the test started, closed after the hubs and connections, before the servers. */
  closeWith(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  /** Stops everything, each step even when an earlier one failed; throws the first failure. */
  async stop(): Promise<void> {
    const steps: Array<() => Promise<void>> = [
      ...this.hubs.splice(0).map((hub) => () => hub.stop()),
      ...this.sinks.splice(0).map((sink) => () => sink.close()),
      ...this.buses.splice(0).map((bus) => () => bus.close()),
      ...this.closers.splice(0),
      async () => this.esDouble?.stop(),
      () => this.nats.stop(),
    ];
    let failure: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}

export interface PublishedBatch {
  agentId: string;
  sequence: number;
  events: CanonicalEvent[];
  /** host.name and host.hostname; the agent id when not given. */
  hostName?: string;
}

/** One batch as a server publishes it: host and agent filled in, its message id for JetStream's dedup. */
export async function publishBatch(bus: Bus, batch: PublishedBatch): Promise<void> {
  const { agentId, sequence, events } = batch;
  const hostName = batch.hostName ?? agentId;
  const data = BusEventBatch.encode(
    BusEventBatch.fromPartial({
      agentId,
      sequence,
      serverId: "s",
      events,
      host: { id: agentId, name: hostName, hostname: hostName },
      agent: { id: agentId, type: "vigil-agent", version: "0.1.0" },
    }),
  ).finish();
  await bus.publish(eventsSubject(agentId), data, { msgId: `${agentId}:${sequence}` });
}
