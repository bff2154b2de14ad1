import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type EventFormat,
  type PageHeaderFormat,
  parseEventFormat,
  parsePageHeaderFormat,
} from "./event-format";
import { compileDecoder, type RecordDecoder } from "./record-decoder";
import { RecordKind } from "./record-kind";

/** The ring-buffer pages and format files captured from a real kernel (see fixtures/README). */
export interface CapturedFixtures {
  read(name: string): Buffer;
  header: PageHeaderFormat;
  execFormat: EventFormat;
  probeFormat: EventFormat;
  execDecoder: RecordDecoder;
  probeDecoder: RecordDecoder;
}

/** Loads the captured fixtures from `dir` and compiles their decoders as the collector would; for tests and benches. */
export function loadCapturedFixtures(dir: string): CapturedFixtures {
  const read = (name: string) => readFileSync(join(dir, name));
  const execFormat = parseEventFormat(read("sched_process_exec.format").toString());
  const probeFormat = parseEventFormat(read("uprobe_execve.format").toString());
  return {
    read,
    header: parsePageHeaderFormat(read("header_page.format").toString()),
    execFormat,
    probeFormat,
    execDecoder: compileDecoder(execFormat, {
      kind: RecordKind.SchedExec,
      fields: ["pid", "old_pid"],
      stringField: "filename",
    }),
    probeDecoder: compileDecoder(probeFormat, {
      kind: RecordKind.ProbeExec,
      fields: ["more"],
      stringField: "file",
      argvSlots: 4,
    }),
  };
}
