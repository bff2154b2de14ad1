import { ipv4FromLittleEndian, ipv6FromBytes, portFromLittleEndian } from "./sockaddr";

describe("sockaddr", () => {
  it("sockaddr - IPv4 and port as read little-endian from sockaddr_in", () => {
    const sockaddr = Buffer.from([2, 0, 0x1f, 0x90, 127, 0, 0, 1]);
    expect(portFromLittleEndian(sockaddr.readUInt16LE(2))).toBe(8080);
    expect(ipv4FromLittleEndian(sockaddr.readUInt32LE(4))).toBe("127.0.0.1");
  });

  it("sockaddr - IPv6 in RFC 5952 form", () => {
    const bytes = (hex: string) => Buffer.from(hex.replace(/\s/g, ""), "hex");
    expect(ipv6FromBytes(bytes("00000000 00000000 00000000 00000001"), 0)).toBe("::1");
    expect(ipv6FromBytes(bytes("20010db8 00000000 00010000 00000001"), 0)).toBe("2001:db8::1:0:0:1");
    expect(ipv6FromBytes(bytes("20010db8 00010001 00010001 00010001"), 0)).toBe("2001:db8:1:1:1:1:1:1");
    expect(ipv6FromBytes(bytes("00000000 00000000 0000ffff c0a80001"), 0)).toBe("::ffff:192.168.0.1");
    expect(ipv6FromBytes(bytes("fe800000 00000000 00000000 00000000"), 0)).toBe("fe80::");
  });
});
