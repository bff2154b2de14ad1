// Linux capability sets (a u64 bit mask, bit n = capability n of
// <linux/capability.h>) as the names rules match on, e.g. "CAP_SETUID CAP_SYS_ADMIN".

const CAPABILITY_NAMES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

/** Bits a capability set can have (the kernel's set is 64 bits wide). */
const CAPABILITY_BITS = 64;

/** The capabilities in a set, lowest bit first; bits newer than this table as CAP_<n>. */
export function capabilityNames(set: number): string[] {
  const names: string[] = [];
  if (!Number.isSafeInteger(set) || set <= 0) return names;
  let rest = BigInt(set);
  for (let bit = 0; bit < CAPABILITY_BITS && rest !== 0n; bit++, rest >>= 1n) {
    if ((rest & 1n) === 1n) names.push(CAPABILITY_NAMES[bit] ?? `CAP_${bit}`);
  }
  return names;
}

/** Capabilities in `after` that `before` did not have. */
export function addedCapabilities(before: number, after: number): string[] {
  const had = new Set(capabilityNames(before));
  return capabilityNames(after).filter((name) => !had.has(name));
}
