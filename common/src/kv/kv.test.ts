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

describe("kv - nats, server restart", () => {
  it("a watch resumes after nats-server is killed and restarted on its store; writes made after are delivered", async () => {
    const restartable = await startNatsServer();
    const bus = await connectNatsBus({
      servers: [restartable.url],
      name: "kv-restart",
      logger: silentLogger(),
    });
    try {
      const kv = await bus.openKv({ name: "restart", history: 1, ttlMs: 0, maxValueBytes: 256 });
      const seen: string[] = [];
      const watch = await kv.watch({ initialValues: true }, (e) =>
        seen.push(new TextDecoder().decode(e.value)),
      );
      await kv.put("k", new TextEncoder().encode("before"));
      await waitFor("the first value", () => seen.includes("before"));
      await restartable.kill9();
      await restartable.restart();
      await waitFor("the bus to reconnect", () => bus.isHealthy(), 20_000);
      // The first write after a restart can race the reconnect: retry until stored.
      await waitFor(
        "a write after the restart",
        () => {
          void kv.put("k", new TextEncoder().encode("after")).catch(() => undefined);
          return seen.includes("after");
        },
        30_000,
      );
      expect(seen[0]).toBe("before");
      watch.stop();
    } finally {
      await bus.close();
      await restartable.stop();
    }
  });
});
