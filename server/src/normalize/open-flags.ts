// Linux x86_64/arm64 open(2) flag bits, decoded into the names rules and
// analysts know. Access mode is a 2-bit field, the rest are single bits.
const ACCESS_MODES = ["O_RDONLY", "O_WRONLY", "O_RDWR"] as const;

const FLAG_BITS: ReadonlyArray<readonly [number, string]> = [
  [0o100, "O_CREAT"],
  [0o200, "O_EXCL"],
  [0o400, "O_NOCTTY"],
  [0o1000, "O_TRUNC"],
  [0o2000, "O_APPEND"],
  [0o4000, "O_NONBLOCK"],
  [0o10000, "O_DSYNC"],
  [0o200000, "O_DIRECTORY"],
  [0o400000, "O_NOFOLLOW"],
  [0o2000000, "O_CLOEXEC"],
  [0o20000000, "O_PATH"],
  [0o20200000, "O_TMPFILE"],
];

export function decodeOpenFlags(flags: number): string[] {
  const names: string[] = [ACCESS_MODES[flags & 3] ?? "O_ACCMODE"];
  for (const [bit, name] of FLAG_BITS) {
    if ((flags & bit) === bit) names.push(name);
  }
  return names;
}

export function isWriteOpen(flags: number): boolean {
  return (flags & 3) !== 0 || (flags & 0o100) !== 0 || (flags & 0o1000) !== 0;
}
