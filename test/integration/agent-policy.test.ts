import fs, { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { agentConfigSchema, DriverCollector, VigilAgent } from "@vigil/agent";
import { createMemoryBus, type MemoryBus, silentLogger } from "@vigil/common";
import { type AgentMessage, AgentServiceService, type ServerMessage } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { DRIVER_EVENT_IDS as T, VIGIL_TYPE_MAX } from "../../agent/src/collectors/driver/event-table.gen";
import { encodeRecord } from "../../agent/src/collectors/driver/record-encoder";
import { freeLoopbackPort as freePort } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";

// Server-pushed agent policy, end to end over real gRPC: the server's
// agentPolicy reaches the agent as a ConfigUpdate after Welcome, the agent
// writes it to the driver as control commands (the device is a temp regular
// file here, so the exact bytes are checked; QEMU checks the real driver takes
// them), a live re-push is applied, a refused or bad update changes nothing
// and is reported, and the driver's counters come back in heartbeats to
// /api/v1/agents and /metrics.

const TOKEN = "integration-test-token-0123456789";
const logger = silentLogger();
const host = {
  hostname: "policy-host",
  osName: "Debian GNU/Linux",
  osVersion: "12",
  kernelRelease: "6.1.0",
  architecture: "x64",
  ipAddresses: [],
};

/** What DriverCollector.start() writes (configured prefixes + a stats request). */
const START = "clear-watch\nwatch /local/\nstats\n";
/** What the agent writes once its collectors run: its local defaults, resetting a previous run's filters. */
const LOCAL_DEFAULTS = "clear-watch\nwatch /local/\nclear-allow\nhook all on\nstats\n";

function perType(values: Record<number, bigint>): Uint8Array {
  const blob = new Uint8Array((VIGIL_TYPE_MAX + 1) * 8);
  const view = new DataView(blob.buffer);
  for (const [id, value] of Object.entries(values)) view.setBigUint64(Number(id) * 8, value, true);
  return blob;
}

interface AgentsResponse {
  agents: Array<{
    agentId: string;
    policyVersion: number;
    counters?: {
      collectorCounters: Record<string, number>;
      droppedByReason: Record<string, number>;
      config?: { appliedVersion: number; updatesRejected: number; lastError: string };
    };
  }>;
}

async function agentView(server: VigilServer, agentId: string) {
  const response = await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/agents`);
  const body = (await response.json()) as AgentsResponse;
  return body.agents.find((agent) => agent.agentId === agentId);
}

async function metricsText(server: VigilServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.apiPort}/metrics`)).text();
}

/** The value of the sample whose line starts with `prefix` (name, or name + first labels); undefined if absent. */
function metricValue(text: string, prefix: string): number | undefined {
  const line = text
    .split("\n")
    .find((candidate) => candidate.startsWith(prefix) && /[ {,]/.test(candidate[prefix.length]));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function agentFor(port: number, agentId: string, driver: DriverCollector): VigilAgent {
  const config = agentConfigSchema.parse({
    agentId,
    servers: [`127.0.0.1:${port}`],
    token: TOKEN,
    transport: { backoffInitialMs: 50, backoffMaxMs: 200 },
    spool: { mode: "memory" },
  });
  return new VigilAgent({ config, agentId, host, collectors: [driver], logger });
}

describe("agent policy - server agentPolicy → ConfigUpdate → driver control commands", () => {
  let dir: string;
  let device: string;
  let bus: MemoryBus;
  let server: VigilServer | undefined;
  let agent: VigilAgent | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-policy-it-"));
    device = join(dir, "vigil");
    writeFileSync(device, "");
    bus = createMemoryBus();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await agent?.stop(500);
    await server?.close(0);
    await bus.close();
    agent = undefined;
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test("applied after Welcome, re-pushed live, refusal kept out, counters in /api/v1/agents and /metrics", async () => {
    const tool = join(dir, "backup-tool");
    writeFileSync(tool, "#!/bin/sh\n");
    chmodSync(tool, 0o755);
    server = await startVigilServer({
      config: serverConfigSchema.parse({
        serverId: "policy-server",
        grpc: { port: await freePort(), agentToken: TOKEN, heartbeatIntervalMs: 1000 },
        api: { port: 0 },
        agentPolicy: {
          driver: {
            watchedPrefixes: ["/etc/", "/srv/app/"],
            allowExecutables: [tool, "2049:77", "/opt/not-on-this-host"],
            disabledHooks: ["fork", "dns"],
          },
        },
      }),
      bus,
      logger,
    });
    const driver = new DriverCollector({
      logger,
      devicePath: device,
      watchedPrefixes: ["/local/"],
      pollIntervalMs: 5,
      statsIntervalMs: 3_600_000,
    });
    agent = agentFor(server.grpcPort, "policy-agent-1", driver);
    await agent.start();

    // Version 1 reaches the agent and is written to the driver in one write.
    await waitFor(() => agent?.counters().config?.appliedVersion === 1, 5000, "policy version 1 applied");
    const v1 =
      "clear-watch\nwatch /etc/\nwatch /srv/app/\nclear-allow\n" +
      `allow-exe ${tool}\nallow-ino 2049 77\nhook all on\nhook fork off\nhook dns off\nstats\n`;
    expect(readFileSync(device, "utf8")).toBe(START + LOCAL_DEFAULTS + v1);
    expect(driver.stats()).toMatchObject({ filterUpdatesApplied: 2, allowExecutablesMissing: 1 });

    // The driver answers the stats request; its counters travel in the next heartbeat.
    appendFileSync(
      device,
      encodeRecord(T.STATS, {
        records: 5000n,
        dropped: 12n,
        buffer_size: 4_194_304,
        buffer_used: 8192,
        hooks_enabled: 0x1fffdf9n,
        hook_counts: perType({ [T.EXEC]: 1000n, [T.CONNECT]: 40n }),
        hook_drops: perType({ [T.EXEC]: 5n }),
      }),
    );
    const live = server;
    await waitFor(
      async () =>
        (await agentView(live, "policy-agent-1"))?.counters?.collectorCounters["driver.hookRecords.exec"] ===
        1000,
      5000,
      "driver counters in /api/v1/agents",
    );
    const view = await agentView(server, "policy-agent-1");
    expect(view).toMatchObject({
      policyVersion: 1,
      counters: {
        collectorCounters: {
          "driver.kernelRecords": 5000,
          "driver.driverDropped": 12,
          "driver.bufferSize": 4_194_304,
          "driver.bufferUsed": 8192,
          "driver.hooksEnabledMask": 0x1fffdf9,
          "driver.hookRecords.connect": 40,
          "driver.hookDrops.exec": 5,
          "driver.filterUpdatesApplied": 2,
        },
        droppedByReason: { "driver.driverDropped": 12 },
        config: { appliedVersion: 1, updatesApplied: 1, updatesRejected: 0, lastError: "" },
      },
    });
    // Per-hook drops break the total down; they are not summed into the drop reasons a second time.
    expect(view?.counters?.droppedByReason["driver.hookDrops.exec"]).toBeUndefined();
    const metrics = await metricsText(server);
    expect(metricValue(metrics, 'vigil_server_agent_collector_counter{counter="driver.hookDrops.exec"')).toBe(
      5,
    );
    expect(metricValue(metrics, 'vigil_server_agent_collector_counter{counter="driver.driverDropped"')).toBe(
      12,
    );
    expect(metricValue(metrics, "vigil_server_agents_policy_pending")).toBe(0);

    // A live change is pushed to the connected agent as version 2.
    const afterStats = readFileSync(device).length;
    expect((await server.setAgentPolicy({ driver: { watchedPrefixes: ["/opt/"] } })).version).toBe(2);
    await waitFor(() => agent?.counters().config?.appliedVersion === 2, 5000, "policy version 2 applied");
    expect(readFileSync(device).subarray(afterStats).toString()).toBe(
      "clear-watch\nwatch /opt/\nclear-allow\nhook all on\nstats\n",
    );

    // The driver refuses version 3 (EINVAL): version 2 stays in force and the refusal is reported.
    const realWriteSync = fs.writeSync;
    jest.spyOn(fs, "writeSync").mockImplementation(((fd: number, data: unknown, ...rest: never[]) => {
      if (typeof data === "string" && data.startsWith("clear-watch\n")) {
        throw Object.assign(new Error("EINVAL: invalid argument, write"), { code: "EINVAL" });
      }
      return realWriteSync(fd, data as string, ...rest);
    }) as typeof fs.writeSync);
    const beforeRefusal = readFileSync(device, "utf8");
    await server.setAgentPolicy({ driver: { watchedPrefixes: ["/var/"] } });
    await waitFor(() => agent?.counters().config?.updatesRejected === 1, 5000, "version 3 rejected");
    expect(agent.counters().config).toEqual({
      appliedVersion: 2,
      updatesApplied: 2,
      updatesRejected: 1,
      settingsIgnored: 0,
      lastError: "driver: the driver refused the filter commands (EINVAL)",
    });
    expect(readFileSync(device, "utf8")).toBe(beforeRefusal);
    await waitFor(
      async () => (await agentView(live, "policy-agent-1"))?.counters?.config?.updatesRejected === 1,
      5000,
      "the refusal in /api/v1/agents",
    );
    expect((await agentView(server, "policy-agent-1"))?.counters?.config).toMatchObject({
      appliedVersion: 2,
      lastError: "driver: the driver refused the filter commands (EINVAL)",
    });
    const refusedMetrics = await metricsText(server);
    expect(metricValue(refusedMetrics, "vigil_server_agent_policy_version")).toBe(3);
    expect(metricValue(refusedMetrics, "vigil_server_agents_policy_pending")).toBe(1);
    expect(metricValue(refusedMetrics, "vigil_server_agents_policy_rejected")).toBe(1);

    // Once the driver takes commands again, the next version applies and clears the error.
    jest.restoreAllMocks();
    await server.setAgentPolicy({ driver: { watchedPrefixes: ["/var/"], disabledHooks: ["exit"] } });
    await waitFor(() => agent?.counters().config?.appliedVersion === 4, 5000, "policy version 4 applied");
    expect(agent.counters().config?.lastError).toBe("");
    expect(readFileSync(device, "utf8")).toBe(
      `${beforeRefusal}clear-watch\nwatch /var/\nclear-allow\nhook all on\nhook exit off\nstats\n`,
    );

    // An invalid policy never leaves the server.
    await expect(server.setAgentPolicy({ driver: { disabledHooks: ["exce"] } })).rejects.toThrow(
      /invalid agent policy: agentPolicy\.driver\.disabledHooks\[0\]: "exce" is not a driver hook/,
    );
    expect(server.agentPolicy().version).toBe(4);
    const policy = await (await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/agent-policy`)).json();
    expect(policy).toEqual({
      version: 4,
      policy: { driver: { watchedPrefixes: ["/var/"], disabledHooks: ["exit"] } },
      settings: { "driver.watchedPrefixes": '["/var/"]', "driver.disabledHooks": '["exit"]' },
    });
  });

  test("an agent that connects after a change gets the current version with its Welcome", async () => {
    server = await startVigilServer({
      config: serverConfigSchema.parse({
        grpc: { port: await freePort(), agentToken: TOKEN, heartbeatIntervalMs: 1000 },
        api: { port: 0 },
      }),
      bus,
      logger,
    });
    // No agentPolicy configured: version 1 carries no settings, the local defaults stay.
    await server.setAgentPolicy({ driver: { disabledHooks: ["mount"] } });
    const driver = new DriverCollector({ logger, devicePath: device, watchedPrefixes: ["/local/"] });
    agent = agentFor(server.grpcPort, "policy-agent-late", driver);
    await agent.start();
    await waitFor(() => agent?.counters().config?.appliedVersion === 2, 5000, "policy version 2 applied");
    expect(readFileSync(device, "utf8")).toBe(
      `${START}${LOCAL_DEFAULTS}clear-watch\nwatch /local/\nclear-allow\nhook all on\nhook mount off\nstats\n`,
    );
  });
});

describe("agent policy - bad settings from a server are rejected without harm", () => {
  let fake: Server | undefined;
  let agent: VigilAgent | undefined;
  let dir: string;

  afterEach(async () => {
    await agent?.stop(200);
    fake?.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test("unknown keys are ignored and counted, bad values reject the update, the previous filters stay", async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-policy-bad-"));
    const device = join(dir, "vigil");
    writeFileSync(device, "");
    // A server (newer or broken) that sends what the real one never would.
    const updates: ServerMessage[] = [
      {
        body: { $case: "config", value: { version: 7, settings: { "driver.watchedPrefixes": '["/etc/"]' } } },
      },
      {
        body: {
          $case: "config",
          value: {
            version: 8,
            settings: {
              "driver.watchedPrefixes": '["/etc/","relative/"]',
              "driver.disabledHooks": "fork",
              "procfs.futureKnob": "1",
            },
          },
        },
      },
      {
        body: {
          $case: "config",
          value: { version: 9, settings: { "driver.allowExecutables": '["8:1"]', "agent.futureKnob": "x" } },
        },
      },
    ];
    const streams: ServerDuplexStream<AgentMessage, ServerMessage>[] = [];
    fake = new Server();
    fake.addService(AgentServiceService, {
      connect: (call: ServerDuplexStream<AgentMessage, ServerMessage>) => {
        streams.push(call);
        call.on("data", (message: AgentMessage) => {
          if (message.body?.$case !== "hello") return;
          call.write({
            body: {
              $case: "welcome",
              value: {
                serverId: "fake",
                sessionId: "s1",
                heartbeatIntervalMs: 1000,
                maxBatchEvents: 5000,
                maxBatchBytes: 4 << 20,
              },
            },
          });
          call.write(updates[0]);
        });
        call.on("error", () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      fake?.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const driver = new DriverCollector({ logger, devicePath: device, watchedPrefixes: ["/local/"] });
    agent = agentFor(port, "policy-agent-bad", driver);
    await agent.start();
    await waitFor(() => agent?.counters().config?.appliedVersion === 7, 5000, "version 7 applied");
    const applied = readFileSync(device, "utf8");
    expect(applied.endsWith("clear-watch\nwatch /etc/\nclear-allow\nhook all on\nstats\n")).toBe(true);

    streams[0].write(updates[1]);
    await waitFor(() => agent?.counters().config?.updatesRejected === 1, 5000, "version 8 rejected");
    expect(agent.counters().config).toEqual({
      appliedVersion: 7,
      updatesApplied: 1,
      updatesRejected: 1,
      settingsIgnored: 1,
      lastError:
        'driver.disabledHooks: must be a JSON array of strings, got "fork"; ' +
        'driver.watchedPrefixes[1]: "relative/" must be an absolute path (start with /)',
    });
    expect(readFileSync(device, "utf8")).toBe(applied);

    streams[0].write(updates[2]);
    await waitFor(() => agent?.counters().config?.appliedVersion === 9, 5000, "version 9 applied");
    expect(agent.counters().config).toMatchObject({ updatesRejected: 1, settingsIgnored: 2, lastError: "" });
    expect(readFileSync(device, "utf8")).toBe(
      `${applied}clear-watch\nwatch /local/\nclear-allow\nallow-ino 8 1\nhook all on\nstats\n`,
    );
    // Still connected and heartbeating: nothing crashed.
    expect(agent.link.isConnected()).toBe(true);
  });
});
