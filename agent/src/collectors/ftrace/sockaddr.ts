/** IPv4 address from the u32 that holds sockaddr_in.sin_addr as stored in memory (network order bytes). */
export function ipv4FromLittleEndian(value: number): string {
  return `${value & 0xff}.${(value >>> 8) & 0xff}.${(value >>> 16) & 0xff}.${value >>> 24}`;
}

/** sin_port read as a little-endian u16 is byte-swapped. */
export function portFromLittleEndian(value: number): number {
  return ((value & 0xff) << 8) | (value >>> 8);
}

/** RFC 5952 text of 16 address bytes: lowercase, longest zero run as "::", IPv4-mapped as dotted. */
export function ipv6FromBytes(bytes: Buffer, offset: number): string {
  const words: number[] = [];
  for (let index = 0; index < 8; index++) words.push(bytes.readUInt16BE(offset + index * 2));
  if (
    words[0] === 0 &&
    words[1] === 0 &&
    words[2] === 0 &&
    words[3] === 0 &&
    words[4] === 0 &&
    words[5] === 0xffff
  ) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let index = 0; index < 8; ) {
    if (words[index] !== 0) {
      index++;
      continue;
    }
    let end = index;
    while (end < 8 && words[end] === 0) end++;
    if (end - index > bestLength && end - index > 1) {
      bestStart = index;
      bestLength = end - index;
    }
    index = end;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
