import { createConnection, createServer, type Server, type Socket } from "node:net";

// A loopback TCP proxy for network fault tests: clients connect to `port`, the
// proxy connects on to the target and copies bytes both ways. It can cut the
// network the way a dead link does, without closing anything:
//  - blackhole(): every connection, open or new, is still accepted but its
//    bytes go nowhere (no reset, no FIN: the peers only notice by timeouts);
//  - restore(): the connections cut by the blackhole are destroyed (as the
//    peers' own timeouts would end them) and new ones are forwarded again;
//  - dropConnections(): every open connection is reset now.

export interface TcpProxy {
  readonly port: number;
  /** Stop forwarding: bytes of open and new connections are discarded. */
  blackhole(): void;
  /** Forward again; connections that lived through the blackhole are destroyed. */
  restore(): void;
  /** Destroys every open connection (both sides). */
  dropConnections(): void;
  /** True while blackholed. */
  isCut(): boolean;
  /** Connections accepted so far, and bytes forwarded each way. */
  stats(): { connections: number; open: number; bytesUp: number; bytesDown: number; discarded: number };
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Lived through (part of) a blackhole: never forwards again. */
  cut: boolean;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  const counters = { connections: 0, bytesUp: 0, bytesDown: 0, discarded: 0 };
  let blackholed = false;

  const destroy = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const server: Server = createServer((client) => {
    counters.connections++;
    const pair: Pair = { client, upstream: undefined, cut: blackholed };
    pairs.add(pair);
    client.on("error", () => destroy(pair));
    client.on("close", () => destroy(pair));
    client.on("data", (chunk: Buffer) => {
      if (pair.cut || blackholed) {
        pair.cut = true;
        counters.discarded += chunk.length;
        return;
      }
      counters.bytesUp += chunk.length;
      pair.upstream?.write(chunk);
    });
    if (pair.cut) return; // accepted into the blackhole: never dials the target
    const upstream = createConnection({ port: targetPort, host: targetHost });
    pair.upstream = upstream;
    // Bytes the client sent before the upstream connected are buffered by write().
    upstream.on("error", () => destroy(pair));
    upstream.on("close", () => destroy(pair));
    upstream.on("data", (chunk: Buffer) => {
      if (pair.cut || blackholed) {
        pair.cut = true;
        counters.discarded += chunk.length;
        return;
      }
      counters.bytesDown += chunk.length;
      client.write(chunk);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    port,
    blackhole() {
      blackholed = true;
      for (const pair of pairs) pair.cut = true;
    },
    restore() {
      blackholed = false;
      for (const pair of [...pairs]) if (pair.cut) destroy(pair);
    },
    dropConnections() {
      for (const pair of [...pairs]) destroy(pair);
    },
    isCut: () => blackholed,
    stats: () => ({ ...counters, open: pairs.size }),
    close() {
      for (const pair of [...pairs]) destroy(pair);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
