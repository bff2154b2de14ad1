/** A syscall in flight on one thread, assembled from uprobe -> sys_enter -> sys_exit records. */
export const CallKind = { Exec: 1, Open: 2, Connect: 3, SetId: 4, Chdir: 5 } as const;
export type CallKind = (typeof CallKind)[keyof typeof CallKind];

export class PendingCall {
  /** Trace-clock ns of the first record; stale calls are dropped by age. */
  timestampNs = 0;
  /** True when a uprobe supplied the user-memory strings. */
  probed = false;
  path = "";
  argv: string[] = [];
  argvTruncated = false;
  dfd = 0;
  flags = 0;
  mode = 0;
  fd = -1;
  family = 0;
  port = 0;
  address = "";
  syscall = "";
  arg0 = -1;
  arg1 = -1;
  arg2 = -1;

  constructor(readonly kind: CallKind) {}
}
