import { pathGlob, tracepointPlan, uprobeDefinition, uprobePlan } from "./probe-plan";

describe("probe plan", () => {
  const plan = uprobePlan({
    sensitivePaths: ["/etc/shadow", "/root/.ssh/"],
    argvSlots: 2,
    includeUnixConnect: false,
  });

  it("probe plan - open probes keep writes and sensitive paths only", () => {
    const open = plan.find((spec) => spec.event === "open");
    expect(open?.filter).toBe('flags & 579 || path ~ "/etc/shadow*" || path ~ "/root/.ssh/*"');
  });

  it("probe plan - connect probe keeps inet families unless unix is asked for", () => {
    expect(plan.find((spec) => spec.event === "connect")?.filter).toBe("family == 2 || family == 10");
    const withUnix = uprobePlan({ sensitivePaths: [], argvSlots: 1, includeUnixConnect: true });
    expect(withUnix.find((spec) => spec.event === "connect")?.filter).toContain("family == 1");
  });

  it("probe plan - exec probe reads argv strings, pointers and the slot after them", () => {
    const execve = plan.find((spec) => spec.event === "execve");
    expect(execve?.fetchargs).toBe(
      "file=+0(%di):ustring a0=+0(+0(%si)):ustring a1=+0(+8(%si)):ustring p0=+0(%si):x64 p1=+8(%si):x64 more=+16(%si):x64",
    );
  });

  it("probe plan - one probe per address, skipped when libc lacks the symbol", () => {
    const symbols = new Map([["open64", { name: "open64", address: 0x1000, size: 1, fileOffset: 0x1000 }]]);
    const taken = new Set<number>();
    const open = plan.find((spec) => spec.event === "open");
    const creat = plan.find((spec) => spec.event === "creat");
    if (open === undefined || creat === undefined) throw new Error("plan incomplete");
    expect(uprobeDefinition(open, "vigil_1", "/lib/libc.so.6", symbols, taken)).toBe(
      "p:vigil_1/open /lib/libc.so.6:0x1000 path=+0(%di):ustring flags=%si:s32 mode=%dx:u32",
    );
    expect(uprobeDefinition(open, "vigil_1", "/lib/libc.so.6", symbols, taken)).toBeUndefined();
    expect(uprobeDefinition(creat, "vigil_1", "/lib/libc.so.6", symbols, taken)).toBeUndefined();
  });

  it("probe plan - sensitive paths cannot break out of the filter string", () => {
    expect(pathGlob("/etc/sudoers")).toBe("/etc/sudoers*");
    expect(pathGlob("/home/*")).toBe("/home/*");
    expect(() => pathGlob('/etc/x" || 1')).toThrow(/quote/);
  });

  it("probe plan - write opens are filtered in the kernel on O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", () => {
    const openat = tracepointPlan().find((spec) => spec.event === "sys_enter_openat");
    expect(openat?.filter).toBe("flags & 579");
  });
});
