import { existsSync } from "node:fs";
import { connect } from "node:net";
import { describe, expect, it } from "@jest/globals";
import { findNatsServer, startNatsServer } from "./nats-server";

// The harness itself: fails loudly without nats-server, and kill9/restart keep
// the port and the store.

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("nats-server harness", () => {
  it("missing binary - throws telling how to install it", () => {
    const saved = process.env.NATS_SERVER_BIN;
    process.env.NATS_SERVER_BIN = "/nonexistent/nats-server";
    try {
      expect(() => findNatsServer()).toThrow(
        "nats-server not found: install it with `apt-get install nats-server`",
      );
    } finally {
      if (saved === undefined) delete process.env.NATS_SERVER_BIN;
      else process.env.NATS_SERVER_BIN = saved;
    }
  });

  it("lifecycle - kill9 and restart keep port and store; stop removes the store", async () => {
    const server = await startNatsServer();
    try {
      expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
      expect(await accepts(server.port)).toBe(true);
      await server.kill9();
      expect(server.isRunning()).toBe(false);
      expect(await accepts(server.port)).toBe(false);
      await server.restart();
      expect(server.isRunning()).toBe(true);
      expect(await accepts(server.port)).toBe(true);
      expect(existsSync(server.storeDir)).toBe(true);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.storeDir)).toBe(false);
    expect(await accepts(server.port)).toBe(false);
  });
});
