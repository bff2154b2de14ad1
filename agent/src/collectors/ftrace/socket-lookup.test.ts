import { createConnection, createServer } from "node:net";
import { lookupSocket, parseEndpoint } from "./socket-lookup";

describe("socket lookup", () => {
  it("socket lookup - /proc/net endpoints", () => {
    expect(parseEndpoint("0100007F:1F90")).toEqual(["127.0.0.1", 8080]);
    expect(parseEndpoint("00000000000000000000000001000000:0050")).toEqual(["::1", 80]);
    expect(parseEndpoint("0000000000000000FFFF00000100007F:0016")).toEqual(["::ffff:127.0.0.1", 22]);
  });

  it("socket lookup - finds a live TCP connection of a process by fd", async () => {
    const server = createServer((socket) => socket.on("error", () => undefined));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const client = createConnection(port, "127.0.0.1");
    try {
      await new Promise((resolve) => client.once("connect", resolve));
      const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
      expect(lookupSocket("/proc", process.pid, fd)).toEqual({
        family: "inet",
        transport: "tcp",
        sourceIp: "127.0.0.1",
        sourcePort: client.localPort,
        destinationIp: "127.0.0.1",
        destinationPort: port,
      });
      expect(lookupSocket("/proc", process.pid, 0)).toBeUndefined();
    } finally {
      client.destroy();
      server.close();
    }
  });
});
