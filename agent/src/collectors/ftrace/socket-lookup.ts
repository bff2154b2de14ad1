// Which connection an fd is, from /proc: for connects made without glibc
// (Go, static binaries), whose sockaddr the trace only shows as a pointer.
// Reads whole /proc/<pid>/net tables, so it is a fallback, not a per-event path.

import { readLink, readText } from "../proc/process-reader";
import { ipv6FromBytes } from "./sockaddr";

export interface SocketEndpoints {
  family: "inet" | "inet6";
  transport: "tcp" | "udp";
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
}

const TABLES = [
  { file: "tcp", family: "inet", transport: "tcp" },
  { file: "tcp6", family: "inet6", transport: "tcp" },
  { file: "udp", family: "inet", transport: "udp" },
  { file: "udp6", family: "inet6", transport: "udp" },
] as const;

export function lookupSocket(procRoot: string, pid: number, fd: number): SocketEndpoints | undefined {
  const match = /^socket:\[(\d+)\]$/.exec(readLink(`${procRoot}/${pid}/fd/${fd}`));
  if (match === null) return undefined;
  const inode = match[1];
  for (const table of TABLES) {
    const text = readText(`${procRoot}/${pid}/net/${table.file}`);
    if (text === undefined) continue;
    const row = findRow(text, inode);
    if (row === undefined) continue;
    const [sourceIp, sourcePort] = parseEndpoint(row[1]);
    const [destinationIp, destinationPort] = parseEndpoint(row[2]);
    return {
      family: table.family,
      transport: table.transport,
      sourceIp,
      sourcePort,
      destinationIp,
      destinationPort,
    };
  }
  return undefined;
}

/** Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ... */
function findRow(text: string, inode: string): string[] | undefined {
  for (const line of text.split("\n")) {
    if (!line.includes(` ${inode} `)) continue;
    const columns = line.trim().split(/\s+/);
    if (columns[9] === inode) return columns;
  }
  return undefined;
}

/** "0100007F:1F90" -> ["127.0.0.1", 8080]; addresses are printed as host-order u32 words. */
export function parseEndpoint(text: string): [string, number] {
  const [hex, port] = text.split(":");
  const bytes = Buffer.alloc(hex.length / 2);
  for (let word = 0; word < hex.length / 8; word++) {
    bytes.writeUInt32LE(Number.parseInt(hex.slice(word * 8, word * 8 + 8), 16), word * 4);
  }
  return [
    bytes.length === 4 ? Array.from(bytes).join(".") : ipv6FromBytes(bytes, 0),
    Number.parseInt(port, 16),
  ];
}
