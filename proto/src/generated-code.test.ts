import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { AgentMessage, BusEventBatch } from "./index";

const PROTO_DIR = join(__dirname, "..");
const BIN = join(PROTO_DIR, "..", "node_modules", ".bin");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("proto - generated code", () => {
  test("the committed TypeScript is exactly what buf + ts-proto generate from the .proto files (offline)", () => {
    const out = mkdtempSync(join(tmpdir(), "vigil-proto-"));
    try {
      execFileSync(join(BIN, "buf"), ["generate", "-o", out], {
        cwd: PROTO_DIR,
        env: { ...process.env, PATH: `${BIN}:${process.env.PATH}` },
        stdio: "pipe",
      });
      const committed = join(PROTO_DIR, "src", "gen");
      const fresh = join(out, "src", "gen");
      const names = filesUnder(committed)
        .map((file) => relative(committed, file))
        .sort();
      expect(
        filesUnder(fresh)
          .map((file) => relative(fresh, file))
          .sort(),
      ).toEqual(names);
      for (const name of names) {
        // A mismatch here means a .proto changed without `npm run gen:proto`.
        expect(readFileSync(join(fresh, name), "utf8")).toBe(readFileSync(join(committed, name), "utf8"));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test("oneof payloads round-trip through the wire format", () => {
    const message = AgentMessage.fromPartial({
      body: {
        $case: "batch",
        value: {
          sequence: 42,
          events: [{ timestampUs: 1, payload: { $case: "exit", value: { exitCode: 3 } } }],
        },
      },
    });
    const decoded = AgentMessage.decode(AgentMessage.encode(message).finish());
    expect(decoded.body?.$case).toBe("batch");
    expect(decoded).toEqual(message);
  });

  test("decoding truncated bytes throws instead of returning a half message", () => {
    const bytes = BusEventBatch.encode({
      agentId: "a",
      sequence: 1,
      serverId: "s",
      receivedUs: 2,
      host: undefined,
      agent: undefined,
      parents: [],
      events: [],
    }).finish();
    expect(() => BusEventBatch.decode(bytes.subarray(0, bytes.length - 1))).toThrow();
  });
});
