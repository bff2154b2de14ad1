import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Alert,
  type Bus,
  createMemoryBus,
  type EcsDocument,
  SqliteAlertStore,
  SqliteEventStore,
  silentLogger,
} from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { Command } from "commander";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { capturedDocuments } from "../../../test/harness/events-captured-documents";
import { addOperatorCommands } from "../operator-commands";
import type { ApiOptions } from "./api-client";
import { showEvents } from "./events";
import { showAlertContext } from "./events-context";
import { showProcessTree } from "./events-tree";

// `vigil events`, `vigil events tree` and `vigil alerts context` against an
// embedded-mode server whose API reads a real SQLite event store holding the
// captured vigil.ko stream (and a SQLite alert store with one alert on it):
// the table, the JSON lines, paging, the indented tree and the errors.

const TOKEN = "cli-events-viewer-token-0123456789";

type Doc = EcsDocument & {
  "@timestamp": string;
  event: { id: string; action: string };
  host: { id: string; name: string };
  process?: {
    pid?: number;
    entity_id?: string;
    executable?: string;
    name?: string;
    command_line?: string;
    parent?: { entity_id?: string };
  };
  file?: { path?: string };
  destination?: { ip?: string; port?: number };
};
const docs = capturedDocuments() as Doc[];
const HOST = docs[0]?.host.id as string;
const tsOf = (doc: Doc) => Date.parse(doc["@timestamp"]);
const byTime = (a: Doc, b: Doc) =>
  tsOf(a) - tsOf(b) || (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0);
const ascending = (list: Doc[]) => [...list].sort(byTime);
const idsOf = (list: EcsDocument[]) => list.map((doc) => (doc.event as { id: string }).id);
const execOf = (commandLine: string) =>
  docs.find((doc) => doc.event.action === "exec" && doc.process?.command_line === commandLine) as Doc;
/** "2026-11-23 14:29:20.117" */
const timeOf = (doc: Doc) => doc["@timestamp"].slice(0, 23).replace("T", " ");
const eventsOf = (entityId: string | undefined) =>
  ascending(docs.filter((doc) => doc.process?.entity_id === entityId));

describe("vigil events - against an embedded server with the SQLite event store", () => {
  let dir: string;
  let events: SqliteEventStore;
  let alerts: SqliteAlertStore;
  let bus: Bus;
  let server: VigilServer;
  let bare: VigilServer;
  let api: ApiOptions;
  let output: CapturedOutput;
  const shadow = execOf("cat /etc/shadow");
  const exercise = execOf("/bin/vigil-exercise /tmp/watched");
  const sh = execOf("sh -c cat /dev/null; exit 0");
  const cat = execOf("cat /dev/null");
  const alert: Alert = {
    id: "alert-shadow-1",
    timestampUs: tsOf(shadow) * 1000,
    level: "high",
    rule: {
      id: "shadow-read",
      name: "Read of /etc/shadow",
      description: "",
      level: "high",
      author: "",
      references: [],
      tags: [],
      version: "1",
    },
    document: {
      ...shadow,
      event: { kind: "alert", id: "alert-shadow-1" },
      rule: { id: "shadow-read", name: "Read of /etc/shadow" },
      vigil: { alert: { level: "high" } },
      message: "Read of /etc/shadow on web-01",
    },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "evcli-events-"));
    events = new SqliteEventStore({ path: join(dir, "events.db") });
    await events.write(docs);
    alerts = new SqliteAlertStore({ path: join(dir, "alerts.db") });
    await alerts.write([alert]);
    bus = createMemoryBus();
    const config = (serverId: string) =>
      serverConfigSchema.parse({
        serverId,
        grpc: { port: 0, agentToken: "cli-events-agent-token-0123456789" },
        api: { port: 0, token: TOKEN },
      });
    server = await startVigilServer({
      config: config("cli-events"),
      bus,
      logger: silentLogger(),
      alertReader: alerts,
      eventQueries: events,
    });
    // A server whose hubs keep no events.
    bare = await startVigilServer({ config: config("cli-no-events"), bus, logger: silentLogger() });
    api = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, json: false };
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    await server?.close(0);
    await bare?.close(0);
    await bus?.close();
    await events?.close();
    await alerts?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("vigil events - the newest N as a table oldest first, the next page's cursor on stderr", async () => {
    const execs = ascending(docs.filter((doc) => doc.event.action === "exec"));
    expect(execs.length).toBeGreaterThan(10);
    output.clear();
    await showEvents({ ...api, hostId: HOST, actions: ["exec"], limit: 5 });
    const lines = output.lines();
    expect(lines[0]).toMatch(/^TIME\s+HOST\s+ACTION\s+PID\s+EXECUTABLE\s+DETAIL$/);
    const newest = execs.slice(-5);
    expect(lines.slice(1)).toHaveLength(5);
    lines.slice(1).forEach((line, index) => {
      const doc = newest[index] as Doc;
      expect(line.split(/\s{2,}/)).toEqual([
        timeOf(doc),
        "web-01",
        "exec",
        String(doc.process?.pid),
        doc.process?.executable,
        doc.process?.command_line,
      ]);
    });
    const cursor = /; older ones: --cursor (\S+)\n$/.exec(output.stderr())?.[1];
    expect(output.stderr()).toMatch(/^5 newest matching events; older ones: --cursor \S+\n$/);

    // The cursor continues into the five before them.
    output.clear();
    await showEvents({ ...api, json: true, hostId: HOST, actions: ["exec"], limit: 5, cursor });
    expect(output.lines().map((line) => JSON.parse(line).event.id)).toEqual(idsOf(execs.slice(-10, -5)));
  });

  test("vigil events - the detail column says the file, the peer or the command line", async () => {
    output.clear();
    await showEvents({ ...api, actions: ["connect", "file-rename", "open-write"], path: "/tmp/watched/y" });
    const rename = output.lines().find((line) => line.includes("file-rename"));
    expect(rename).toMatch(/\s{2}\/tmp\/watched\/x -> \/tmp\/watched\/y$/);
    output.clear();
    await showEvents({ ...api, actions: ["connect"], dstPort: 4444 });
    const connects = docs.filter((doc) => doc.event.action === "connect" && doc.destination?.port === 4444);
    expect(connects.length).toBeGreaterThan(0);
    expect(output.lines().slice(1)).toHaveLength(connects.length);
    for (const line of output.lines().slice(1)) expect(line).toMatch(/\s{2}-> [0-9.]+:4444$/);
  });

  test("vigil events --json - one stored document per line, every filter reaching the API", async () => {
    const json = async (filters: Parameters<typeof showEvents>[0]) => {
      output.clear();
      await showEvents({ ...api, ...filters, json: true, limit: 1000 });
      return output.lines().map((line) => JSON.parse(line) as Doc);
    };
    const everything = await json({ ...api });
    expect(everything).toEqual(JSON.parse(JSON.stringify(ascending(docs))));
    const cases: Array<[Partial<Parameters<typeof showEvents>[0]>, (doc: Doc) => boolean]> = [
      [{ path: "/etc/" }, (doc) => doc.file?.path?.startsWith("/etc/") === true],
      [{ text: "VIGIL-DROPPER" }, (doc) => JSON.stringify(doc.process ?? {}).includes("vigil-dropper")],
      [{ entityId: sh.process?.entity_id }, (doc) => doc.process?.entity_id === sh.process?.entity_id],
      [{ pid: shadow.process?.pid, actions: ["exec"] }, (doc) => doc === shadow],
      [
        { categories: ["network"] },
        (doc) => (doc.event as { category?: string[] }).category?.includes("network") === true,
      ],
      [
        { dstIp: "192.0.2.10", dstPort: 4444 },
        (doc) => doc.destination?.ip === "192.0.2.10" && doc.destination.port === 4444,
      ],
      [
        { since: exercise["@timestamp"], until: cat["@timestamp"] },
        (doc) => tsOf(doc) >= tsOf(exercise) && tsOf(doc) < tsOf(cat),
      ],
    ];
    for (const [filters, keep] of cases) {
      const expected = ascending(docs.filter(keep));
      expect(expected.length).toBeGreaterThan(0);
      expect(idsOf(await json({ ...api, ...filters }))).toEqual(idsOf(expected));
    }
    expect(output.stderr()).toBe("");
  });

  test("vigil events --all - every page oldest first, the table's header once", async () => {
    output.clear();
    await showEvents({ ...api, json: true, all: true, pageSize: 7 });
    expect(output.lines().map((line) => JSON.parse(line).event.id)).toEqual(idsOf(ascending(docs)));

    output.clear();
    await showEvents({ ...api, all: true, pageSize: 4, actions: ["exit"] });
    const exits = ascending(docs.filter((doc) => doc.event.action === "exit"));
    expect(exits.length).toBeGreaterThan(8);
    const lines = output.lines();
    expect(lines.filter((line) => line.startsWith("TIME "))).toHaveLength(1);
    expect(lines.slice(1).map((line) => line.slice(0, 23))).toEqual(exits.map(timeOf));
    // Fixed widths: every page's ACTION column starts at the same place.
    expect(new Set(lines.slice(1).map((line) => line.indexOf("exit")))).toEqual(new Set([43]));
    expect(output.stderr()).toBe(`${exits.length} events\n`);
  });

  test("vigil events tree - ancestors, the process and its events, indented a level per generation", async () => {
    output.clear();
    await showProcessTree({ ...api, hostId: HOST, entityId: cat.process?.entity_id, eventsPerProcess: 500 });
    const chain = [exercise, sh, cat];
    const expected = chain.flatMap((exec, level) => {
      const pad = "  ".repeat(level);
      const head = `${pad}${exec.process?.pid} ${exec.process?.command_line}  [${exec.process?.entity_id}]`;
      return [
        level === 2 ? `${head}  <== this process` : head,
        ...eventsOf(exec.process?.entity_id).map((doc) => `${pad}  · ${timeOf(doc)}  ${doc.event.action}  `),
      ];
    });
    const lines = output.lines();
    expect(lines).toHaveLength(expected.length);
    // Each line as far as the expectation goes (an event's detail is checked on its own below).
    expect(lines.map((line, index) => line.slice(0, expected[index]?.length))).toEqual(expected);
    expect(lines.find((line) => line.startsWith("      · ") && line.includes("  exec  "))).toMatch(
      / {2}exec {2}cat \/dev\/null$/,
    );

    // By pid at a moment: the same process the entity id names.
    output.clear();
    await showProcessTree({
      ...api,
      json: true,
      hostId: HOST,
      pid: shadow.process?.pid,
      at: shadow["@timestamp"],
    });
    expect(JSON.parse(output.stdout()).entityId).toBe(shadow.process?.entity_id);
  });

  test("vigil events tree - descendants each under its parent, breadth of the whole exercise", async () => {
    output.clear();
    await showProcessTree({
      ...api,
      hostId: HOST,
      entityId: exercise.process?.entity_id,
      eventsPerProcess: 0,
    });
    const lines = output.lines();
    expect(lines[0]).toBe(
      `${exercise.process?.pid} ${exercise.process?.command_line}  [${exercise.process?.entity_id}]  <== this process`,
    );
    const parentOf = new Map(
      docs
        .filter((doc) => doc.process?.entity_id && doc.process.parent?.entity_id)
        .map((doc) => [doc.process?.entity_id as string, doc.process?.parent?.entity_id as string]),
    );
    // The last [...] of the line: a command line may hold brackets too (grep -q ^[^:]*:...).
    const entityOf = (line: string) => /\[([^\]]+)\](?: {2}<== this process)?$/.exec(line)?.[1] as string;
    const indentOf = (line: string) => (/^ */.exec(line)?.[0].length ?? 0) / 2;
    const descendants = lines.slice(1);
    expect(descendants.length).toBeGreaterThan(5);
    // Every child of the exercise is in the tree.
    const children = new Set(
      [...parentOf].filter(([, parent]) => parent === exercise.process?.entity_id).map(([child]) => child),
    );
    expect(new Set(descendants.filter((line) => indentOf(line) === 1).map(entityOf))).toEqual(children);
    // The nearest line above a process that is one level out is its parent's.
    descendants.forEach((line, index) => {
      const above = lines.slice(0, index + 1).reverse();
      const parentLine = above.find((candidate) => indentOf(candidate) === indentOf(line) - 1) as string;
      expect(entityOf(parentLine)).toBe(parentOf.get(entityOf(line)));
    });
  });

  test("vigil alerts context - the alert, its window and its process's ancestry with their events", async () => {
    output.clear();
    await showAlertContext({ ...api, minutes: 2 }, "alert-shadow-1");
    const lines = output.stdout().split("\n");
    const from = new Date(tsOf(shadow) - 120_000).toISOString().slice(0, 23).replace("T", " ");
    const to = new Date(tsOf(shadow) + 120_001).toISOString().slice(0, 23).replace("T", " ");
    expect(lines.slice(0, 4)).toEqual([
      `alert alert-shadow-1  HIGH  Read of /etc/shadow  ${timeOf(shadow)}  host web-01`,
      "Read of /etc/shadow on web-01",
      `events from ${from} to ${to}`,
      "",
    ]);
    const tree = lines.slice(4).filter(Boolean);
    const selfIndex = tree.findIndex((line) => line.endsWith("<== this process"));
    expect(tree[selfIndex]).toBe(
      `  ${shadow.process?.pid} cat /etc/shadow  [${shadow.process?.entity_id}]  <== this process`,
    );
    expect(tree[0]).toMatch(/^\d+ \/bin\/vigil-exercise \/tmp\/watched {2}\[/);
    expect(tree.slice(selfIndex + 1)).toEqual(
      eventsOf(shadow.process?.entity_id).map(
        (doc) => `    · ${timeOf(doc)}  ${doc.event.action}  ${doc.file?.path ?? doc.process?.command_line}`,
      ),
    );

    output.clear();
    await showAlertContext({ ...api, json: true, minutes: 2 }, "alert-shadow-1");
    const answer = await fetch(`${api.api}/api/v1/alerts/alert-shadow-1/context?minutes=2`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(JSON.parse(output.stdout())).toEqual(await answer.json());
  });

  test("vigil events / alerts context - through the command parser, options reach the commands", async () => {
    const run = async (...args: string[]) => {
      const program = new Command("vigil").exitOverride();
      addOperatorCommands(program);
      output.clear();
      await program.parseAsync([...args, "--api", api.api, "--token", TOKEN], { from: "user" });
      return output.lines();
    };
    const picked = ascending(docs.filter((doc) => ["exec", "connect"].includes(doc.event.action))).slice(-3);
    const lines = await run("events", "--host-id", HOST, "--action", "exec,connect", "-n", "3", "--json");
    expect(lines.map((line) => JSON.parse(line).event.id)).toEqual(idsOf(picked));
    const tree = await run(
      "events",
      "tree",
      "--host-id",
      HOST,
      "--entity-id",
      cat.process?.entity_id as string,
    );
    expect(tree.filter((line) => line.endsWith("<== this process"))).toEqual([
      `    ${cat.process?.pid} cat /dev/null  [${cat.process?.entity_id}]  <== this process`,
    ]);
    const context = await run("alerts", "context", "alert-shadow-1", "--minutes", "1", "--json");
    expect(JSON.parse(context[0] as string).fromMs).toBe(tsOf(shadow) - 60_000);
  });

  test("vigil events - errors name the option, the missing process or alert, and the missing store", async () => {
    await expect(
      showEvents({ ...api, since: cat["@timestamp"], until: exercise["@timestamp"] }),
    ).rejects.toThrow("API 400: --since: must be before --until");
    await expect(showEvents({ ...api, dstPort: 70000 })).rejects.toThrow(
      /^API 400: --dst-port: must be <= 65535$/,
    );
    await expect(showEvents({ ...api, cursor: "zzz" })).rejects.toThrow("API 400: --cursor: not a cursor");
    await expect(showEvents({ ...api, all: true, limit: 3 })).rejects.toThrow("-n: not with --all");
    await expect(showProcessTree({ ...api, hostId: HOST, entityId: "nope" })).rejects.toThrow(
      `API 404: no events of process nope on host ${HOST}`,
    );
    await expect(showProcessTree({ ...api, hostId: HOST })).rejects.toThrow(
      "--entity-id or --pid: one of them names the process",
    );
    await expect(
      showProcessTree({ ...api, hostId: HOST, entityId: "x", at: cat["@timestamp"] }),
    ).rejects.toThrow("--at: only with --pid");
    await expect(showAlertContext({ ...api }, "no-such-alert")).rejects.toThrow(
      "API 404: alert no-such-alert is not stored",
    );
    await expect(showAlertContext({ ...api, minutes: 100_000 }, "alert-shadow-1")).rejects.toThrow(
      /^API 400: --minutes: must be <= 1440$/,
    );
    const withoutStore = { ...api, api: `http://127.0.0.1:${bare.apiPort}` };
    for (const attempt of [
      showEvents(withoutStore),
      showProcessTree({ ...withoutStore, hostId: HOST, entityId: "x" }),
      showAlertContext(withoutStore, "alert-shadow-1"),
    ]) {
      await expect(attempt).rejects.toThrow("API 503: no event store: enable hub.events / events.enabled");
    }
  });
});
