import { posix } from "node:path";
import { processEntityId } from "@vigil/common";
import { EcsProcessParent, type ProcessRef } from "@vigil/proto";

/**
 * The distinct parent processes (with their own parents) of one batch's
 * events. Most events of a batch come from a few process trees, so each
 * parent is normalized and encoded once and events point at it by index
 * (EcsProcess.parent_index → BusEventBatch.parents) instead of carrying a copy.
 * A parent matches a known one only when all it says is the same, not just its
 * pid: a parent that exec'd during the batch keeps its pid and entity id but
 * has a new executable and args. Compared field by field — building a string
 * key per event cost more than the encoding it saved.
 */
export class ParentTable {
  readonly parents: EcsProcessParent[] = [];
  private readonly seenByPid = new Map<number, SeenParent[]>();

  constructor(private readonly agentId: string) {}

  /** 1-based index of this parent (and grandparent) in `parents`, added on first sight. */
  indexOf(parent: ProcessRef, grandparent: ProcessRef | undefined): number {
    let seen = this.seenByPid.get(parent.pid);
    if (seen === undefined) {
      seen = [];
      this.seenByPid.set(parent.pid, seen);
    }
    for (const candidate of seen) {
      if (sameRef(candidate.parent, parent) && sameOptionalRef(candidate.grandparent, grandparent)) {
        return candidate.index;
      }
    }
    const normalized = parentFields(this.agentId, parent);
    if (grandparent) normalized.parent = parentFields(this.agentId, grandparent);
    this.parents.push(normalized);
    seen.push({ parent, grandparent, index: this.parents.length });
    return this.parents.length;
  }
}

interface SeenParent {
  parent: ProcessRef;
  grandparent: ProcessRef | undefined;
  index: number;
}

function sameOptionalRef(a: ProcessRef | undefined, b: ProcessRef | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameRef(a, b);
}

/** Equal in every field the canonical parent is built from. */
function sameRef(a: ProcessRef, b: ProcessRef): boolean {
  if (
    a.pid !== b.pid ||
    a.startTimeUs !== b.startTimeUs ||
    a.entityId !== b.entityId ||
    a.executable !== b.executable ||
    a.execFilename !== b.execFilename ||
    a.name !== b.name ||
    a.args.length !== b.args.length
  ) {
    return false;
  }
  for (let i = 0; i < a.args.length; i++) if (a.args[i] !== b.args[i]) return false;
  return true;
}

export function parentFields(agentId: string, ref: ProcessRef | undefined): EcsProcessParent {
  if (!ref) return EcsProcessParent.create();
  return {
    pid: ref.pid,
    entityId: ref.entityId || processEntityId(agentId, ref.pid, ref.startTimeUs),
    name: ref.name || (ref.executable ? posix.basename(ref.executable) : ""),
    executable: ref.executable,
    args: ref.args,
    commandLine: ref.args.join(" "),
    parent: undefined,
    execFilename: ref.execFilename,
  };
}
