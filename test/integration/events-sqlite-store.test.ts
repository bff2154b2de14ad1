// The embedded event store on real recorded events: the captured vigil.ko
// stream (test/fixtures/driver/stream.bin) through the agent's decoding, the
// server's normalization and toEcsDocument, stored in a real SQLite file.
// Expectations are computed from the documents themselves with plain filters,
// never from the store.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  alertContext,
  type EcsDocument,
  type EventSearch,
  ProcessNotFoundError,
  SqliteEventStore,
  type SqliteEventStoreOptions,
} from "@vigil/common";
import { capturedDocuments } from "../harness/events-captured-documents";

interface Doc {
  "@timestamp": string;
  event: { id: string; action: string; category: string[] };
  host: { id: string; name: string };
  process?: {
    pid?: number;
    entity_id?: string;
    executable?: string;
    command_line?: string;
    parent?: { entity_id?: string };
  };
  user?: { name?: string };
  destination?: { ip?: string; port?: number };
  source?: { port?: number };
  file?: { path?: string };
}

const documents = capturedDocuments() as unknown as Doc[];
const tsOf = (doc: Doc) => Date.parse(doc["@timestamp"]);
const byTimeThenId = (a: Doc, b: Doc) =>
  tsOf(a) - tsOf(b) || (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0);
const ascendingIds = (docs: Doc[]) => [...docs].sort(byTimeThenId).map((doc) => doc.event.id);
const idsOf = (docs: EcsDocument[]) => docs.map((doc) => (doc.event as { id: string }).id);
const HOST = documents[0]?.host.id as string;

function execOf(commandLine: string): Doc {
  const found = documents.find(
    (doc) => doc.event.action === "exec" && doc.process?.command_line === commandLine,
  );
  if (found === undefined) throw new Error(`the capture has no exec of ${commandLine}`);
  return found;
}

/** A copy of `doc` as another event of the same process, `shiftMs` later. */
function shifted(doc: Doc, shiftMs: number, suffix: string): Doc {
  return {
    ...structuredClone(doc),
    "@timestamp": new Date(tsOf(doc) + shiftMs).toISOString(),
    event: { ...doc.event, id: `${doc.event.id}:${suffix}` },
  };
}

describe("events sqlite store", () => {
  let dir: string;
  const open: SqliteEventStore[] = [];

  function openStore(options: Partial<SqliteEventStoreOptions> = {}): SqliteEventStore {
    const store = new SqliteEventStore({ path: join(dir, "events.db"), ...options });
    open.push(store);
    return store;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "events-store-"));
  });

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("events sqlite store - the captured stream is stored once, owner-only, with the contract's columns", async () => {
    expect(documents.length).toBeGreaterThan(150);
    const store = openStore();
    const first = await store.write(documents as unknown as EcsDocument[]);
    expect(first).toEqual({ stored: documents.length, refused: [] });
    // A redelivered batch changes nothing.
    await store.write(documents as unknown as EcsDocument[]);
    const stats = await store.stats();
    expect(stats.events).toBe(documents.length);
    expect(stats.bytes).toBe(documents.reduce((sum, doc) => sum + Buffer.byteLength(JSON.stringify(doc)), 0));
    expect(stats.oldestMs).toBe(Math.min(...documents.map(tsOf)));
    expect(statSync(join(dir, "events.db")).mode & 0o777).toBe(0o600);

    const shadow = execOf("cat /etc/shadow");
    const connect = documents.find(
      (doc) => doc.event.action === "connect" && doc.destination?.port === 4444,
    ) as Doc;
    const db = new DatabaseSync(join(dir, "events.db"), { readOnly: true });
    try {
      const row = (id: string) =>
        db.prepare("SELECT * FROM events WHERE id = ?").get(id) as Record<string, unknown>;
      expect(row(shadow.event.id)).toMatchObject({
        ts_ms: tsOf(shadow),
        host_id: HOST,
        host_name: "web-01",
        category: "process",
        action: "exec",
        process_entity_id: shadow.process?.entity_id,
        process_pid: shadow.process?.pid,
        parent_entity_id: shadow.process?.parent?.entity_id,
        executable: "/bin/busybox",
        command_line: "cat /etc/shadow",
        doc: JSON.stringify(shadow),
        bytes: Buffer.byteLength(JSON.stringify(shadow)),
      });
      expect(row(connect.event.id)).toMatchObject({
        category: "network",
        destination_ip: "192.0.2.10",
        destination_port: 4444,
        source_port: connect.source?.port,
      });
      expect((db.prepare("SELECT version FROM schema_version").get() as { version: number }).version).toBe(1);
    } finally {
      db.close();
    }
  });

  test("events sqlite store - documents that cannot be found again are refused with the reason, the rest stored", async () => {
    const store = openStore();
    const good = documents[5] as Doc;
    const noId = { ...structuredClone(good), event: { ...good.event, id: undefined } };
    const badTime = { ...shifted(good, 0, "bad-time"), "@timestamp": "yesterday" };
    const noHost = { ...shifted(good, 0, "no-host"), host: undefined, agent: undefined };
    const result = await store.write([good, noId, badTime, noHost] as unknown as EcsDocument[]);
    expect(result.stored).toBe(1);
    expect(result.refused).toEqual([
      { reason: "event.id is missing" },
      { id: badTime.event.id, reason: "@timestamp is missing or not an ISO time" },
      { id: `${good.event.id}:no-host`, reason: "host.id (or agent.id) is missing" },
    ]);
    expect((await store.stats()).events).toBe(1);
  });

  describe("search", () => {
    let store: SqliteEventStore;
    const alice = shifted(execOf("cat /etc/shadow"), 1, "alice");
    (alice as { user: { name: string } }).user = { name: "alice" };
    const all = [...documents, alice];

    beforeEach(async () => {
      store = openStore();
      await store.write(all as unknown as EcsDocument[]);
    });

    async function everything(search: Omit<EventSearch, "size">): Promise<string[]> {
      const page = await store.search({ ...search, size: 1000 });
      expect(page.nextCursor).toBeNull();
      return idsOf(page.events);
    }

    const cases: Array<[string, Omit<EventSearch, "size">, (doc: Doc) => boolean]> = [
      ["host id", { hostId: HOST }, () => true],
      ["host name", { hostName: "web-01" }, () => true],
      ["another host", { hostId: "no-such-host" }, () => false],
      ["action", { actions: ["exec", "connect"] }, (doc) => ["exec", "connect"].includes(doc.event.action)],
      ["category", { categories: ["network"] }, (doc) => doc.event.category.includes("network")],
      [
        "executable",
        { executable: "/tmp/vigil-dropper" },
        (doc) => doc.process?.executable === "/tmp/vigil-dropper",
      ],
      [
        "process entity id",
        { processEntityId: execOf("cat /etc/shadow").process?.entity_id },
        (doc) => doc.process?.entity_id === execOf("cat /etc/shadow").process?.entity_id,
      ],
      ["pid", { pid: 145 }, (doc) => doc.process?.pid === 145],
      ["user", { userName: "alice" }, (doc) => doc.user?.name === "alice"],
      ["destination ip", { destinationIp: "192.0.2.10" }, (doc) => doc.destination?.ip === "192.0.2.10"],
      [
        "destination ip and port",
        { destinationIp: "192.0.2.10", destinationPort: 4445 },
        (doc) => doc.destination?.ip === "192.0.2.10" && doc.destination.port === 4445,
      ],
      [
        "file path prefix",
        { filePathPrefix: "/etc/" },
        (doc) => doc.file?.path?.startsWith("/etc/") === true,
      ],
      ["file path prefix is not a pattern", { filePathPrefix: "/etc/%" }, () => false],
      [
        "free text, any case, in command line or path",
        { text: "SHADOW" },
        (doc) =>
          [doc.process?.command_line, doc.file?.path, doc.process?.executable].some((value) =>
            value?.toLowerCase().includes("shadow"),
          ),
      ],
      [
        "time range [from, to)",
        { fromMs: tsOf(execOf("cat /etc/shadow")), toMs: tsOf(execOf("cat /etc/shadow")) + 50 },
        (doc) =>
          tsOf(doc) >= tsOf(execOf("cat /etc/shadow")) && tsOf(doc) < tsOf(execOf("cat /etc/shadow")) + 50,
      ],
      [
        "filters together",
        { actions: ["open-write"], filePathPrefix: "/etc/", pid: 153 },
        (doc) =>
          doc.event.action === "open-write" &&
          doc.file?.path?.startsWith("/etc/") === true &&
          doc.process?.pid === 153,
      ],
    ];

    test.each(cases)("events sqlite store - search by %s", async (_name, search, keep) => {
      const expected = ascendingIds(all.filter(keep));
      expect(await everything({ ...search, order: "asc" })).toEqual(expected);
      expect(await everything(search)).toEqual([...expected].reverse());
      if (_name !== "another host" && _name !== "file path prefix is not a pattern") {
        expect(expected.length).toBeGreaterThan(0);
      }
    });

    test.each(["asc", "desc"] as const)(
      "events sqlite store - pages of 7 in %s order cover every event once",
      async (order) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.search({
            size: 7,
            order,
            cursor,
            actions: ["exec", "exit", "fork", "open-write"],
          });
          expect(page.events.length).toBeLessThanOrEqual(7);
          seen.push(...idsOf(page.events));
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
        }
        const expected = ascendingIds(
          all.filter((doc) => ["exec", "exit", "fork", "open-write"].includes(doc.event.action)),
        );
        expect(seen).toEqual(order === "asc" ? expected : [...expected].reverse());
      },
    );

    test("events sqlite store - a bad search names what was wrong", async () => {
      await expect(store.search({ size: 0 })).rejects.toThrow("size: must be an integer from 1 to 1000");
      await expect(store.search({ size: 10, cursor: "not*a*cursor" })).rejects.toThrow(
        "cursor: not a cursor from this API",
      );
      const page = await store.search({ size: 1, order: "asc" });
      await expect(
        store.search({ size: 1, order: "desc", cursor: page.nextCursor as string }),
      ).rejects.toThrow("cursor: it continues a search in asc order");
      await expect(store.search({ size: 10, text: "x".repeat(257) })).rejects.toThrow(
        "text: longer than 256",
      );
      await expect(store.search({ size: 10, fromMs: 10, toMs: 5 })).rejects.toThrow(
        "from: must be before to",
      );
      await expect(store.search({ size: 10, destinationPort: 70000 })).rejects.toThrow(
        "destinationPort: must be a port",
      );
    });
  });

  describe("process tree", () => {
    let store: SqliteEventStore;
    const exercise = execOf("/bin/vigil-exercise /tmp/watched");
    const shell = execOf("sh -c cat /dev/null; exit 0");
    const cat = execOf("cat /dev/null");
    const entity = (doc: Doc) => doc.process?.entity_id as string;
    const eventsOf = (entityId: string) =>
      ascendingIds(documents.filter((doc) => doc.process?.entity_id === entityId));

    beforeEach(async () => {
      store = openStore();
      await store.write(documents as unknown as EcsDocument[]);
    });

    test("events sqlite store - a grandchild's tree: its ancestry root first, with their events", async () => {
      const tree = await store.processTree({ hostId: HOST, entityId: entity(cat), eventsPerProcess: 500 });
      expect(tree.truncated).toBe(false);
      expect(
        tree.processes.map((node) => [node.relation, node.depth, node.entityId, node.commandLine]),
      ).toEqual([
        ["ancestor", -2, entity(exercise), "/bin/vigil-exercise /tmp/watched"],
        ["ancestor", -1, entity(shell), "sh -c cat /dev/null; exit 0"],
        ["self", 0, entity(cat), "cat /dev/null"],
      ]);
      for (const node of tree.processes) {
        expect(node.seen).toBe(true);
        expect(idsOf(node.events)).toEqual(eventsOf(node.entityId));
      }
      // The exercise's parent (init) started before the capture: no entity id, so the ancestry ends there.
      expect(tree.processes[0]?.parentEntityId).toBeUndefined();
    });

    test("events sqlite store - descendants breadth-first, each under its parent", async () => {
      const tree = await store.processTree({ hostId: HOST, entityId: entity(exercise), eventsPerProcess: 0 });
      const children = new Set(
        documents
          .filter((doc) => doc.process?.parent?.entity_id === entity(exercise))
          .map((doc) => entity(doc)),
      );
      const grandchildren = new Set(
        documents
          .filter((doc) => children.has(doc.process?.parent?.entity_id as string))
          .map((doc) => entity(doc)),
      );
      const self = tree.processes.filter((node) => node.relation === "self");
      expect(self.map((node) => node.entityId)).toEqual([entity(exercise)]);
      const depth1 = tree.processes.filter((node) => node.depth === 1);
      const depth2 = tree.processes.filter((node) => node.depth === 2);
      expect(new Set(depth1.map((node) => node.entityId))).toEqual(children);
      expect(new Set(depth2.map((node) => node.entityId))).toEqual(grandchildren);
      expect(grandchildren.has(entity(cat))).toBe(true);
      expect(depth2.find((node) => node.entityId === entity(cat))?.parentEntityId).toBe(entity(shell));
      expect(tree.processes.every((node) => node.events.length === 0)).toBe(true);
      // Bounded: the rest is reported as cut.
      const small = await store.processTree({ hostId: HOST, entityId: entity(exercise), maxProcesses: 3 });
      expect(small.processes).toHaveLength(3);
      expect(small.truncated).toBe(true);
    });

    test("events sqlite store - a pid is resolved at a moment; an unknown process is not found", async () => {
      const shadow = execOf("cat /etc/shadow");
      const tree = await store.processTree({
        hostId: HOST,
        pid: shadow.process?.pid,
        atMs: tsOf(shadow) + 1,
      });
      expect(tree.entityId).toBe(entity(shadow));
      await expect(store.processTree({ hostId: HOST, entityId: "no-such-process" })).rejects.toBeInstanceOf(
        ProcessNotFoundError,
      );
      await expect(store.processTree({ hostId: HOST, pid: 999_999 })).rejects.toThrow(
        "no process with pid 999999",
      );
      await expect(store.processTree({ hostId: HOST })).rejects.toThrow("entityId or pid");
    });

    test("events sqlite store - around an alert: its process, ancestry and what they did within ±N minutes", async () => {
      const shadow = execOf("cat /etc/shadow");
      const later = shifted(
        documents.find((doc) => doc.event.action === "exit" && entity(doc) === entity(shadow)) as Doc,
        10 * 60_000,
        "later",
      );
      const earlier = shifted(exercise, -10 * 60_000, "earlier");
      await store.write([later, earlier] as unknown as EcsDocument[]);
      // The alert document carries the event's @timestamp, host and process, as the hub builds it.
      const alert = {
        "@timestamp": shadow["@timestamp"],
        host: shadow.host,
        process: shadow.process,
        rule: { id: "r" },
      };

      const near = await alertContext(store, alert, { minutes: 1, eventsPerProcess: 500 });
      expect(near.fromMs).toBe(tsOf(shadow) - 60_000);
      const self = near.tree?.processes.find((node) => node.relation === "self");
      expect(self?.entityId).toBe(entity(shadow));
      expect(idsOf(self?.events ?? [])).toEqual(eventsOf(entity(shadow)));
      const parent = near.tree?.processes.find((node) => node.relation === "ancestor");
      expect(parent?.entityId).toBe(entity(exercise));
      expect(idsOf(parent?.events ?? [])).toEqual(eventsOf(entity(exercise)));

      const wide = await alertContext(store, alert, { minutes: 15, eventsPerProcess: 500 });
      const wideSelf = wide.tree?.processes.find((node) => node.relation === "self");
      expect(idsOf(wideSelf?.events ?? [])).toEqual([...eventsOf(entity(shadow)), later.event.id]);
      const wideParent = wide.tree?.processes.find((node) => node.relation === "ancestor");
      expect(idsOf(wideParent?.events ?? [])).toEqual([earlier.event.id, ...eventsOf(entity(exercise))]);

      // An alert whose process has no stored events still has a context, without a tree.
      const orphan = await alertContext(store, { ...alert, process: { entity_id: "gone" } });
      expect(orphan.tree).toBeNull();
      await expect(alertContext(store, alert, { minutes: 0 })).rejects.toThrow("minutes:");
    });
  });

  describe("retention", () => {
    test("events sqlite store - the byte bound removes the oldest events first", async () => {
      const total = documents.reduce((sum, doc) => sum + Buffer.byteLength(JSON.stringify(doc)), 0);
      const maxBytes = Math.floor(total / 3);
      const store = openStore({ retention: { maxBytes } });
      // Written in three batches, as the bus delivers them.
      const third = Math.ceil(documents.length / 3);
      for (let start = 0; start < documents.length; start += third) {
        await store.write(documents.slice(start, start + third) as unknown as EcsDocument[]);
      }
      await store.retentionSettled();
      // Oracle: drop oldest (time, then id) until what remains fits.
      const ordered = [...documents].sort(byTimeThenId);
      let bytes = total;
      while (bytes > maxBytes) bytes -= Buffer.byteLength(JSON.stringify(ordered.shift()));
      const stats = await store.stats();
      expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
      expect(stats.bytes).toBe(bytes);
      const kept = await store.search({ size: 1000, order: "asc" });
      expect(idsOf(kept.events)).toEqual(ordered.map((doc) => doc.event.id));
    });

    test("events sqlite store - the days bound removes events older than it", async () => {
      const newest = Math.max(...documents.map(tsOf));
      const old = documents.slice(0, 40).map((doc, index) => shifted(doc, -3 * 86_400_000, `old-${index}`));
      const store = openStore({ retention: { maxDays: 2 }, now: () => newest + 60_000 });
      await store.write([...old, ...documents] as unknown as EcsDocument[]);
      await store.retentionSettled();
      const stats = await store.stats();
      expect(stats.events).toBe(documents.length);
      expect(stats.oldestMs).toBe(Math.min(...documents.map(tsOf)));
      const result = await store.enforceRetention();
      expect(result.removed).toBe(0);
    });

    test("events sqlite store - a bad bound and a newer schema are refused by name", async () => {
      expect(() => openStore({ retention: { maxBytes: -1 } })).toThrow("events.retention.maxBytes");
      await openStore().close();
      const db = new DatabaseSync(join(dir, "events.db"));
      db.exec("UPDATE schema_version SET version = 99");
      db.close();
      expect(() => openStore()).toThrow("schema version 99 is newer");
    });
  });
});
