/** What a trace record means to the correlator; one decoder per enabled event id. */
export const RecordKind = {
  SchedExec: 1,
  SchedExit: 2,
  NewTask: 3,
  ExitExec: 4,
  EnterOpen: 5,
  ExitOpen: 6,
  EnterConnect: 7,
  ExitConnect: 8,
  EnterSetId: 9,
  ExitSetId: 10,
  EnterChdir: 11,
  ExitChdir: 12,
  ProbeExec: 20,
  ProbeOpen: 21,
  ProbeConnect: 22,
  ProbeChdir: 23,
  ProbeExit: 24,
} as const;

export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];
