import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { waitFor } from "../bus/bus-contract";
import { createMemoryBus } from "../bus/memory-bus";
import { connectNatsBus } from "../bus/nats-bus";
import { isVigilError } from "../errors";
import { silentLogger } from "../observability/logger";
import { runKvContract } from "./kv-contract";

// The KV contract against the in-process bus and a real nats-server -js.

runKvContract("memory", async (logger) => createMemoryBus({ logger }));

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

runKvContract("nats", (logger) => connectNatsBus({ servers: [server.url], name: "kv-contract", logger }));

describe("kv - nats, two connections", () => {
  it("each sees the other's writes, watches and CAS conflicts", async () => {
    const logger = silentLogger();
    const a = await connectNatsBus({ servers: [server.url], name: "kv-a", logger });
    const b = await connectNatsBus({ servers: [server.url], name: "kv-b", logger });
    try {
      const spec = { name: `two-conns-${process.pid}`, history: 3, ttlMs: 0, maxValueBytes: 256 };
      const kvA = await a.openKv(spec);
      const kvB = await b.openKv(spec);
      const seenByB: string[] = [];
      const watch = await kvB.watch({ key: "agents.>", initialValues: true }, (e) =>
        seenByB.push(`${e.operation}:${e.key}`),
      );
      const revision = await kvA.put("agents.a1", new TextEncoder().encode("from a"));
      expect(new TextDecoder().decode((await kvB.get("agents.a1"))?.value)).toBe("from a");
      await waitFor("b's watch to see a's put", () => seenByB.includes("put:agents.a1"));
      await kvB.update("agents.a1", new TextEncoder().encode("from b"), revision);
      const lost = await kvA.update("agents.a1", new TextEncoder().encode("stale"), revision).catch((e) => e);
      expect(isVigilError(lost, "VIGIL_ERR_KV_CONFLICT")).toBe(true);
      await kvA.delete("agents.a1");
      await waitFor("b's watch to see the delete", () => seenByB.includes("delete:agents.a1"));
      expect(seenByB).toEqual(["put:agents.a1", "put:agents.a1", "delete:agents.a1"]);
      watch.stop();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
