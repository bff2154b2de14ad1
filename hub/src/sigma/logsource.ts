// Which documents each logsource category covers. The Ruleset classifies a
// document once and only runs the rules of its categories.

import { type EcsDocument, LOGSOURCE_CATEGORIES, type LogsourceCategory } from "./types";

function has(value: unknown, wanted: string): boolean {
  return Array.isArray(value) ? value.includes(wanted) : value === wanted;
}

/** Whether a document is an event of the given category (event.category / type / action). */
export function isCategory(doc: EcsDocument, category: LogsourceCategory): boolean {
  const event = doc.event;
  return typeof event === "object" && event !== null && isEventOfCategory(event as EcsDocument, category);
}

/** isCategory given the document's `event` object (read once for all categories). */
export function isEventOfCategory(event: EcsDocument, category: LogsourceCategory): boolean {
  const { category: cat, type, action } = event;
  switch (category) {
    case "process_creation":
      // Only exec creates a new image; a fork (also process/start) repeats its parent's fields.
      return has(cat, "process") && has(type, "start") && action === "exec";
    case "process_termination":
      return has(cat, "process") && has(type, "end");
    case "privilege_change":
      return has(cat, "process") && has(type, "change") && action === "credential-change";
    case "network_connection":
      return has(cat, "network") && has(type, "connection");
    case "file_event":
      return has(cat, "file") && (has(type, "creation") || has(type, "change"));
    case "file_access":
      return has(cat, "file") && has(type, "access");
    case "file_change":
      // Writes to an existing file, chmod and rename (the driver's FILE_OPEN_WRITE / CHMOD / RENAME).
      return has(cat, "file") && has(type, "change");
    case "file_delete":
      return has(cat, "file") && has(type, "deletion");
    case "file_rename":
      return has(cat, "file") && action === "file-rename";
    case "dns_query":
      return has(cat, "network") && action === "dns";
    case "driver_load":
      // Kernel module loads (the driver's MODULE_LOAD); Sigma's Windows name for the same thing.
      return action === "module-load";
    case "process_access":
      // ptrace of another process (the driver's PTRACE); Sigma's Windows name for process access.
      return has(cat, "process") && action === "ptrace";
    case "kernel_integrity":
      // The driver's INTEGRITY records (kernel KernelEvent, category "integrity").
      return has(cat, "intrusion_detection") && has(type, "indicator") && action === "integrity";
    default: {
      const unreachable: never = category;
      throw new Error(`unhandled logsource category ${String(unreachable)}`);
    }
  }
}

/** The categories a document belongs to (usually one; none for events no rule can see). */
export function categoriesOf(doc: EcsDocument): LogsourceCategory[] {
  return LOGSOURCE_CATEGORIES.filter((category) => isCategory(doc, category));
}
