import {
  type AlertLevel,
  alertsSubject,
  type Bus,
  connectNatsBus,
  defaultStreams,
  silentLogger,
} from "@vigil/common";
import { makeAlert } from "../../../test/doubles/alert-fixture";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { waitFor } from "../../../test/harness/wait-for";
import { followAlertsNats } from "./alerts-follow-nats";

// `vigil alerts --follow --nats` on a real nats-server: alerts published on
// vigil.alerts.<level> (as hubs publish them, with the alert id as message id)
// while following print once each, in order, filtered; what was published
// before it started does not print (--since reaches back for it).

describe("vigil alerts --follow --nats - on real NATS", () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  let output: CapturedOutput;

  async function publish(seed: number, level: AlertLevel, host = "web-01"): Promise<void> {
    const alert = makeAlert({ seed, level, hostName: host, timestampUs: Date.now() * 1000 });
    (alert.document.vigil as Record<string, unknown>).alert = { level };
    await bus.publish(alertsSubject(level), Buffer.from(JSON.stringify(alert.document)), { msgId: alert.id });
  }

  const seeds = () => output.lines().map((line) => (JSON.parse(line).vigil as { seed: string }).seed);

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectNatsBus({ servers: [nats.url], name: "cli-follow-nats", logger: silentLogger() });
    await bus.ensureStreams(defaultStreams());
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    await bus?.close();
    await nats?.stop();
  });

  test("vigil alerts --follow --nats - new alerts once each, in order, level and host filters applied", async () => {
    await publish(1, "critical"); // before the follow: not printed
    output.clear();
    const stop = new AbortController();
    let ready!: () => void;
    const started = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const following = followAlertsNats({
      json: true,
      level: "high",
      host: "web-01",
      nats: { servers: [nats.url] },
      signal: stop.signal,
      onReady: () => ready(),
    });
    await started;
    await publish(2, "high");
    await publish(3, "low"); // below --level
    await publish(4, "critical", "db-01"); // another host
    await publish(2, "high"); // the same alert again: JetStream keeps it once
    await publish(5, "critical");
    await waitFor(() => seeds().length === 2, 5000, "two alerts");
    await publish(6, "high");
    await waitFor(() => seeds().length === 3, 5000, "the third alert");
    stop.abort();
    await following;
    expect(seeds()).toEqual(["2", "5", "6"]);
  });

  test("vigil alerts --follow --nats --since - reaches back into the stream", async () => {
    output.clear();
    const stop = new AbortController();
    const following = followAlertsNats({
      json: true,
      since: new Date(Date.now() - 60_000).toISOString(),
      levels: ["critical"],
      nats: { servers: [nats.url] },
      signal: stop.signal,
    });
    // Criticals stored so far: 1 (before the first follow), 4 (db-01), 5.
    await waitFor(() => seeds().length === 3, 5000, "stored criticals");
    stop.abort();
    await following;
    expect(seeds()).toEqual(["1", "4", "5"]);
  });

  test("vigil alerts --follow --nats - an unreachable NATS names the URL and what to check", async () => {
    await expect(followAlertsNats({ json: true, nats: { servers: ["nats://127.0.0.1:1"] } })).rejects.toThrow(
      /^cannot reach NATS at nats:\/\/127\.0\.0\.1:1: .*check --nats, VIGIL_NATS_URL/,
    );
  });
});
