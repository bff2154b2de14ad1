import { parseCmdline, parseProcStat, parseProcStatus, ttyName } from "./proc-stat";

describe("proc parsers", () => {
  it("proc parsers - stat with a comm holding spaces and parentheses", () => {
    const fields = Array.from({ length: 50 }, (_, index) => String(index + 3));
    fields[0] = "S";
    fields[1] = "77"; // ppid
    fields[3] = "12"; // session
    fields[4] = String((136 << 8) | 3); // tty_nr: pts/3
    fields[19] = "4242"; // starttime
    fields[49] = "256"; // exit_code
    const stat = parseProcStat(`123 (evil) (x y) ${fields.join(" ")}`);
    expect(stat).toEqual({
      comm: "evil) (x y",
      state: "S",
      ppid: 77,
      session: 12,
      ttyNr: 34819,
      startTicks: 4242,
      exitCode: 256,
    });
    expect(ttyName(stat?.ttyNr ?? 0)).toBe("pts/3");
    expect(parseProcStat("garbage")).toBeUndefined();
  });

  it("proc parsers - status ids and cmdline", () => {
    const status = parseProcStatus(
      "Name:\tsh\nTgid:\t10\nPid:\t11\nUid:\t1000\t0\t0\t0\nGid:\t100\t50\t50\t50\n",
    );
    expect(status).toEqual({ tgid: 10, uid: 1000, euid: 0, gid: 100, egid: 50 });
    expect(parseCmdline(Buffer.from("ls\0-l\0\0x\0"), 10)).toEqual(["ls", "-l", "", "x"]);
    expect(parseCmdline(Buffer.from("a\0b\0c\0"), 2)).toEqual(["a", "b"]);
  });
});
