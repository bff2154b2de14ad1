import { relativeTime, renderTable } from "./table";

// Human tables: aligned columns, cut to the terminal's width on the columns
// that may shrink, control characters never reach the terminal.

interface Row {
  id: string;
  message: string;
  count: number;
}

const columns = [
  { header: "ID", value: (row: Row) => row.id },
  { header: "COUNT", value: (row: Row) => String(row.count), align: "right" as const },
  { header: "MESSAGE", value: (row: Row) => row.message, shrink: true },
];

const rows: Row[] = [
  { id: "a1", message: "short", count: 3 },
  { id: "b22222", message: "a much longer message that will not fit in a narrow terminal", count: 1200 },
];

describe("table - rendering", () => {
  test("table - columns aligned under their headers, numbers right-aligned", () => {
    expect(renderTable(rows, columns, undefined)).toBe(
      [
        "ID      COUNT  MESSAGE",
        "a1          3  short",
        "b22222   1200  a much longer message that will not fit in a narrow terminal",
        "",
      ].join("\n"),
    );
  });

  test("table - cut to the width: only the shrinkable column gives, marked with …", () => {
    const lines = renderTable(rows, columns, 40).split("\n").filter(Boolean);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(40);
    expect(lines[2]).toBe("b22222   1200  a much longer message th…");
    expect(lines[1]).toBe("a1          3  short");
  });

  test("table - control characters in a value are shown as spaces", () => {
    const output = renderTable(
      [{ id: "x", message: "evil\u001b[2Jclear\nnext", count: 1 }],
      columns,
      undefined,
    );
    expect(output).toContain("evil [2Jclear next");
    expect(output.split("\n")).toHaveLength(3);
  });

  test("table - relative times", () => {
    const now = Date.UTC(2025, 0, 15, 12, 0, 0);
    expect(relativeTime(now - 5_000, now)).toBe("5s ago");
    expect(relativeTime(new Date(now - 7 * 60_000).toISOString(), now)).toBe("7m ago");
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe("3h ago");
    expect(relativeTime(now - 2 * 86_400_000, now)).toBe("2d ago");
    expect(relativeTime(now + 2 * 3_600_000, now)).toBe("in 2h");
    expect(relativeTime(undefined, now)).toBe("-");
  });
});
