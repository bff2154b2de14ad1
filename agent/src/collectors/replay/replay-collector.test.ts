import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { ReplayCollector } from "./replay-collector";

describe("ReplayCollector rate", () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-replay-rate-"));
    file = join(dir, "events.jsonl");
    const lines = Array.from({ length: 300 }, (_, i) =>
      JSON.stringify({
        timestampUs: 1_000_000 + i,
        process: { pid: 1000 + i },
        fork: { childPid: 2000 + i },
      }),
    );
    writeFileSync(file, `${lines.join("\n")}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function replay(rate: number | undefined): Promise<{ events: Event[]; ms: number }> {
    const events: Event[] = [];
    const collector = new ReplayCollector({ files: [file], rebaseTime: false, rate, logger: silentLogger() });
    const started = performance.now();
    await collector.start((event) => events.push(event));
    await collector.whenDone();
    return { events, ms: performance.now() - started };
  }

  test("at most `rate` events per second, in order, none lost", async () => {
    const { events, ms } = await replay(1000);
    expect(events.map((event) => event.process?.pid)).toEqual(
      Array.from({ length: 300 }, (_, i) => 1000 + i),
    );
    expect(ms).toBeGreaterThanOrEqual(280); // 300 events at 1000/s
    expect(ms).toBeLessThan(3000);
  });

  test("without a rate, as fast as the sink takes them", async () => {
    const { events, ms } = await replay(undefined);
    expect(events).toHaveLength(300);
    expect(ms).toBeLessThan(280);
  });
});
