import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ErrorCodes, VigilError } from "../errors";
import { loadConfig } from "./load-config";
import { listOf } from "./schema-helpers";

const schema = z
  .object({
    grpc: z
      .object({
        port: z.coerce.number().int().min(1).max(65535).default(7443),
        host: z.string().default("127.0.0.1"),
      })
      .strict()
      .default({ port: 7443, host: "127.0.0.1" }),
    servers: listOf(z.string()).default([]),
    maxBatchEvents: z.coerce.number().int().min(1).default(100),
  })
  .strict();

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-config-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(run: () => unknown): VigilError {
  try {
    run();
  } catch (error) {
    if (error instanceof VigilError) return error;
    throw error;
  }
  throw new Error("expected a VigilError");
}

describe("config - file, environment and validation", () => {
  test("defaults apply when nothing is set", () => {
    expect(loadConfig(schema, { envPrefix: "T_", env: {} })).toEqual({
      grpc: { port: 7443, host: "127.0.0.1" },
      servers: [],
      maxBatchEvents: 100,
    });
  });

  test("environment overrides the file, nested keys use __ and camelCase", () => {
    const file = tempFile("c.yaml", "grpc:\n  port: 9000\n  host: 0.0.0.0\nmaxBatchEvents: 5\n");
    const config = loadConfig(schema, {
      file,
      envPrefix: "T_",
      env: { T_GRPC__PORT: "9100", T_MAX_BATCH_EVENTS: "7", T_SERVERS: "a:1, b:2", OTHER: "x" },
    });
    expect(config).toEqual({
      grpc: { port: 9100, host: "0.0.0.0" },
      servers: ["a:1", "b:2"],
      maxBatchEvents: 7,
    });
  });

  test("a bad value names the key and the source", () => {
    const error = configError(() =>
      loadConfig(schema, { envPrefix: "T_", env: { T_GRPC__PORT: "seventy" } }),
    );
    expect(error.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(error.message).toContain("grpc.port");
    expect(error.message).toContain("T_*");
  });

  test("an unknown key is rejected by name", () => {
    const file = tempFile("c.yaml", "grcp:\n  port: 1\n");
    expect(configError(() => loadConfig(schema, { file, envPrefix: "T_", env: {} })).message).toContain(
      "grcp",
    );
  });

  test("an unreadable or malformed file is a config-file error naming the file", () => {
    const missing = configError(() =>
      loadConfig(schema, { file: "/nonexistent/vigil.yaml", envPrefix: "T_", env: {} }),
    );
    expect(missing.code).toBe(ErrorCodes.CONFIG_FILE);
    expect(missing.message).toContain("/nonexistent/vigil.yaml");
    const broken = tempFile("broken.yaml", "grpc: [unclosed\n");
    expect(configError(() => loadConfig(schema, { file: broken, envPrefix: "T_", env: {} })).code).toBe(
      ErrorCodes.CONFIG_FILE,
    );
  });

  test("a section of a shared file is read on its own", () => {
    const file = tempFile("all.yaml", "server:\n  maxBatchEvents: 42\nhub:\n  other: 1\n");
    expect(loadConfig(schema, { file, section: "server", envPrefix: "T_", env: {} }).maxBatchEvents).toBe(42);
  });
});
