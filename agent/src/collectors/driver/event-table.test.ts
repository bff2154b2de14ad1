import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DRIVER_EVENT_BY_ID, VIGIL_HDR_SIZE } from "./event-table.gen";

const REPO = join(__dirname, "..", "..", "..", "..");

describe("driver event table - one source of truth", () => {
  test("event-table.gen.ts is exactly what driver/tools/gen-ts-table.js makes of driver/events.def", () => {
    // Exits non-zero (and the test fails) when events.def changed without regenerating.
    execFileSync(process.execPath, [join(REPO, "driver/tools/gen-ts-table.js"), "--check"], {
      stdio: "pipe",
    });
  });

  test("every record type of events.def is in the table with its id, and the header size matches vigil.h", () => {
    const def = readFileSync(join(REPO, "driver/events.def"), "utf8");
    const ids = [...def.matchAll(/^VG_EVENT\((\d+),\s*(\w+),\s*(\w+),\s*(\w+)\)/gm)].map((m) => [
      Number(m[1]),
      m[3],
    ]);
    expect(ids.length).toBeGreaterThanOrEqual(24);
    for (const [id, name] of ids) expect(DRIVER_EVENT_BY_ID.get(id as number)?.name).toBe(name);
    const header = readFileSync(join(REPO, "driver/include/uapi/vigil.h"), "utf8");
    expect(header).toMatch(new RegExp(`VIGIL_HDR_SIZE\\s+${VIGIL_HDR_SIZE}\\b`));
  });
});
