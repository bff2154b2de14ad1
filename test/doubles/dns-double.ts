// A loopback DNS server (UDP, RFC 1035 wire format) answering SRV, A and AAAA
// questions from a table the test sets, so node:dns's Resolver is exercised
// for real (setServers with a port, record parsing). Unknown names are
// NXDOMAIN; a known name without records of the asked type is NOERROR, empty.

import { createSocket, type RemoteInfo, type Socket } from "node:dgram";

export interface SrvAnswer {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

export class DnsDouble {
  readonly srv = new Map<string, SrvAnswer[]>();
  readonly a = new Map<string, string[]>();
  readonly aaaa = new Map<string, string[]>();
  queries = 0;
  private port = 0;

  private constructor(private readonly socket: Socket) {}

  static async start(): Promise<DnsDouble> {
    const socket = createSocket("udp4");
    const double = new DnsDouble(socket);
    socket.on("message", (message, remote) => double.answer(message, remote));
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    double.port = socket.address().port;
    return double;
  }

  /** For Resolver.setServers. */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private answer(message: Buffer, remote: RemoteInfo): void {
    this.queries++;
    if (message.length < 12) return;
    const id = message.readUInt16BE(0);
    let offset = 12;
    const labels: string[] = [];
    while (offset < message.length && message[offset] !== 0) {
      const length = message[offset];
      labels.push(message.subarray(offset + 1, offset + 1 + length).toString("ascii"));
      offset += 1 + length;
    }
    offset += 1;
    const type = message.readUInt16BE(offset);
    const question = message.subarray(12, offset + 4);
    const name = labels.join(".").toLowerCase();
    const known = this.srv.has(name) || this.a.has(name) || this.aaaa.has(name);
    const answers: Buffer[] = [];
    if (type === TYPE.SRV) {
      for (const record of this.srv.get(name) ?? []) {
        const head = Buffer.alloc(6);
        head.writeUInt16BE(record.priority, 0);
        head.writeUInt16BE(record.weight, 2);
        head.writeUInt16BE(record.port, 4);
        answers.push(resourceRecord(type, Buffer.concat([head, encodeName(record.target)])));
      }
    } else if (type === TYPE.A) {
      for (const address of this.a.get(name) ?? []) {
        answers.push(resourceRecord(type, Buffer.from(address.split(".").map(Number))));
      }
    } else if (type === TYPE.AAAA) {
      for (const address of this.aaaa.get(name) ?? []) answers.push(resourceRecord(type, ipv6Bytes(address)));
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, opcode 0, AA, RD copied, RA; RCODE 3 (NXDOMAIN) for unknown names.
    header.writeUInt16BE(0x8000 | 0x0400 | (message.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    this.socket.send(Buffer.concat([header, question, ...answers]), remote.port, remote.address);
  }
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, "").split(".").filter(Boolean);
  return Buffer.concat([
    ...parts.map((part) => Buffer.concat([Buffer.from([part.length]), Buffer.from(part, "ascii")])),
    Buffer.from([0]),
  ]);
}

/** An answer for the question's name (compression pointer to offset 12), class IN, TTL 30. */
function resourceRecord(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(30, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail !== undefined && tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = Buffer.alloc(16);
  for (const [index, group] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  return bytes;
}
