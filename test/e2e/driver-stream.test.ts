import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { EcsDocument } from "@vigil/common";
import {
  type AlertMatch,
  type DriverExercise,
  EXERCISED_CATEGORIES,
  loadRuleRefs,
  matchAlerts,
  RULES_NOT_EXERCISED,
  readExercise,
} from "../harness/driver-exercise";
import { type DriverPipelineResult, runDriverCapturePipeline } from "../harness/driver-pipeline";

// Real kernel data through the real pipeline: test/fixtures/driver/stream.bin
// is what vigil.ko wrote to /dev/vigil in Debian's kernel (QEMU) while
// driver/tests/guest/vigil-exercise.c played an attacker (exercise.json says
// what it did; README.md there says how to capture it again). The agent replays
// it with its driver-replay collector → gRPC → server → NATS JetStream → hub
// with the default rules → SQLite. Each attack must raise its rule's alert on
// the process that did it (pid, executable, argv from exercise.json); the
// benign look-alikes and the rules no step exercises must raise nothing.

const FIXTURE = join(__dirname, "../fixtures/driver");

describe("end to end - a captured vigil.ko stream fires the default rules", () => {
  let exercise: DriverExercise;
  let result: DriverPipelineResult;
  let match: AlertMatch;
  const rules = loadRuleRefs();

  beforeAll(async () => {
    exercise = readExercise(join(FIXTURE, "exercise.json"));
    result = await runDriverCapturePipeline([join(FIXTURE, "stream.bin")]);
    match = matchAlerts(result.alerts, exercise, rules);
  }, 90_000);

  test("the capture decodes cleanly and every event is evaluated by the hub", () => {
    expect(result.replay).toMatchObject({ decodeErrors: 0, files: 1 });
    expect(result.replay.driverRecords).toBeGreaterThan(100);
    expect(result.events).toBeGreaterThan(100);
    expect(result.evaluated).toBe(result.events);
  });

  test("exactly the expected alerts: one per attack step, none for anything else", () => {
    expect(match.missing).toEqual([]);
    expect(match.unexpected).toEqual([]);
    expect(result.alerts).toHaveLength(match.matched.length);
  });

  test("every alert carries the agent's context: entity ids of the process and its ancestry, the executable's sha256", () => {
    expect(match.matched.length).toBeGreaterThan(0);
    for (const { alert } of match.matched) {
      const process = alert.process as EcsDocument;
      const parent = process.parent as EcsDocument;
      expect(process.entity_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      // The exercise program itself (its ptrace step) is a child of the guest's init, which the
      // capture never introduces: only its pid is known.
      if (process.pid === exercise.pid) expect(parent).toEqual({ pid: 1 });
      else {
        expect(parent.entity_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(parent.entity_id).not.toBe(process.entity_id);
        expect(parent.executable).toBeTruthy();
      }
      // The capture's guest ran busybox; replayed here, its path is hashed against this host's file.
      // An exec waits (context.hashWaitMs) for its hash; other first events of a process may go without.
      const executable = String(process.executable);
      if ((alert.event as EcsDocument).action === "exec" && existsSync(executable)) {
        const sha256 = createHash("sha256").update(readFileSync(executable)).digest("hex");
        expect({ executable, hash: process.hash }).toEqual({ executable, hash: { sha256 } });
      }
    }
  });

  test("each alert names the process that did it (pid, executable, argv) and what it touched", () => {
    for (const { expected, alert } of match.matched) {
      expect({ rule: expected.rule, alert }).toMatchObject({ rule: expected.rule, alert: expected.fields });
      const rule = rules.get(expected.rule);
      expect(alert.rule).toMatchObject({ id: rule?.id, name: rule?.title });
    }
    // The forked reverse-shell child is reported as what it is: bash, child of the bash -c.
    const connect = match.matched.find(
      (m) => m.expected.rule === "net_connection_lnx_shell_nonstandard_port",
    );
    expect(connect).toBeDefined();
    expect(((connect?.alert.process ?? {}) as EcsDocument).parent).toMatchObject({
      pid: exercise.attacks.devTcp.pid,
      executable: "/bin/bash",
    });
  });

  test("the shells run on the reverse-shell connections are caught by their stdin, whatever their command line", () => {
    const { devTcp, netcat } = exercise.attacks;
    const onSocket = match.matched.filter((m) => m.expected.rule === "proc_creation_lnx_shell_socket_stdio");
    expect(onSocket.map((m) => (m.alert.process as EcsDocument).command_line).sort()).toEqual(
      ["bash -i", netcat.shell].sort(),
    );
    for (const { alert } of onSocket) {
      const remote =
        ((alert.process as EcsDocument).parent as EcsDocument).pid === devTcp.pid ? devTcp : netcat;
      expect(alert.vigil).toMatchObject({
        stdin_type: "socket",
        stdin_remote_ip: remote.remoteIp,
        stdin_remote_port: String(remote.port),
      });
    }
    // /bin/sh in the guest is busybox: the rule saw the resolved file and the path nc asked for.
    const nc = onSocket.find((m) => (m.alert.process as EcsDocument).pid === netcat.pid);
    expect(nc?.alert.process).toMatchObject({ executable: "/bin/busybox", exec_filename: "/bin/sh" });
  });

  test("every default rule of the exercised categories fires from kernel data, or is listed with the reason it cannot here", () => {
    const fired = new Set(match.matched.map((m) => m.expected.rule));
    const exercised = [...rules.values()].filter((rule) => EXERCISED_CATEGORIES.includes(rule.category));
    expect(exercised.length).toBeGreaterThanOrEqual(17);
    for (const { file } of exercised) {
      expect({ file, fired: fired.has(file) || file in RULES_NOT_EXERCISED }).toEqual({ file, fired: true });
    }
    for (const file of Object.keys(RULES_NOT_EXERCISED)) {
      expect(rules.has(file)).toBe(true);
      expect(fired.has(file)).toBe(false);
    }
  });

  test("the benign look-alikes raise nothing", () => {
    const benignPids = new Set(Object.values(exercise.benign).map((step) => step.pid));
    const onBenign = result.alerts.filter((alert) =>
      benignPids.has((alert.process as EcsDocument).pid as number),
    );
    expect(onBenign).toEqual([]);
    // They did run: the probes really connected.
    expect(exercise.benign.probeStandardPort.connected).toBe(1);
    expect(exercise.benign.probeLoopback.connected).toBe(1);
  });
});
