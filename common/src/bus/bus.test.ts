import { afterAll, beforeAll } from "@jest/globals";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { runBusContract } from "./bus-contract";
import { createMemoryBus } from "./memory-bus";
import { connectNatsBus } from "./nats-bus";

// The same contract against both buses; NATS is a real nats-server -js.

runBusContract("memory", async (logger) => createMemoryBus({ logger }));

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

runBusContract("nats", (logger) => connectNatsBus({ servers: [server.url], name: "bus-contract", logger }));
