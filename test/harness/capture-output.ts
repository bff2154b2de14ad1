// Captures what CLI commands print (process.stdout/stderr.write) in tests.

export interface CapturedOutput {
  stdout(): string;
  stderr(): string;
  /** Non-empty stdout lines. */
  lines(): string[];
  clear(): void;
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  // Tables are cut to COLUMNS when it is set; tests read whole rows.
  const columns = process.env.COLUMNS;
  delete process.env.COLUMNS;
  let out: string[] = [];
  let err: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
  return {
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    lines: () => out.join("").split("\n").filter(Boolean),
    clear: () => {
      out = [];
      err = [];
    },
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
      if (columns !== undefined) process.env.COLUMNS = columns;
    },
  };
}
