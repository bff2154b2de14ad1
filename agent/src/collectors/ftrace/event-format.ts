// Parsers for tracefs `format` files (events/<group>/<event>/format and
// events/header_page). Run once at start to build decoders.

export interface FieldFormat {
  name: string;
  /** Declared C type, e.g. "__data_loc char[]", "pid_t", "unsigned long". */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** __data_loc: a u32 holding (length << 16 | offset from the record start). */
  dataLoc: boolean;
}

export interface EventFormat {
  name: string;
  id: number;
  fields: FieldFormat[];
}

const FIELD_LINE = /^\s*field:\s*(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

export function parseFieldLines(text: string): FieldFormat[] {
  const fields: FieldFormat[] = [];
  for (const line of text.split("\n")) {
    const match = FIELD_LINE.exec(line);
    if (match === null) continue;
    const declaration = match[1].trim();
    // The name is the last identifier, ignoring an array suffix: "char comm[16]".
    const nameMatch = /([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?$/.exec(declaration);
    if (nameMatch === null) continue;
    const name = nameMatch[1];
    fields.push({
      name,
      type: declaration.slice(0, nameMatch.index).trim(),
      offset: Number(match[2]),
      size: Number(match[3]),
      signed: match[4] === "1",
      dataLoc: declaration.startsWith("__data_loc"),
    });
  }
  return fields;
}

export function parseEventFormat(text: string): EventFormat {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const id = /^ID:\s*(\d+)/m.exec(text)?.[1];
  if (name === undefined || id === undefined) throw new Error("event format without name or ID");
  return { name, id: Number(id), fields: parseFieldLines(text) };
}

export function fieldOf(format: EventFormat, name: string): FieldFormat | undefined {
  return format.fields.find((field) => field.name === name);
}

/** Layout of a ring-buffer page (sub-buffer) from events/header_page. */
export interface PageHeaderFormat {
  timestampOffset: number;
  commitOffset: number;
  commitSize: number;
  dataOffset: number;
}

export function parsePageHeaderFormat(text: string): PageHeaderFormat {
  const fields = parseFieldLines(text);
  const find = (name: string) => {
    const field = fields.find((candidate) => candidate.name === name);
    if (field === undefined) throw new Error(`header_page has no ${name} field`);
    return field;
  };
  const commit = find("commit");
  return {
    timestampOffset: find("timestamp").offset,
    commitOffset: commit.offset,
    commitSize: commit.size,
    dataOffset: find("data").offset,
  };
}
