import { completeBatchEvents, toEcsDocument } from "@vigil/common";
import {
  CONNECT_OUT,
  EXEC_CAT_SHADOW,
  EXIT_EVENT,
  OPEN_AUTHORIZED_KEYS,
  SAMPLE_HELLO,
  SETUID_ROOT,
} from "../../../test/fixtures/sample-events";
import { identityFromHello } from "./agent-identity";
import { normalizeEvent } from "./normalize-event";

const identity = identityFromHello(SAMPLE_HELLO);
const position = { sequence: 17, index: 3, receivedUs: 1_763_900_000_500_000 };

function ecs(event: typeof EXEC_CAT_SHADOW) {
  const canonical = normalizeEvent(identity, event, position);
  if (!canonical) throw new Error("expected a canonical event");
  // The host and agent travel on the batch, as the publisher sends them.
  const [withHost] = completeBatchEvents({
    agentId: identity.agentId,
    sequence: position.sequence,
    serverId: "s1",
    receivedUs: position.receivedUs,
    events: [canonical],
    host: identity.host,
    agent: identity.agent,
    parents: [],
  });
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk the nested ECS document freely
  return toEcsDocument(withHost) as Record<string, any>;
}

describe("normalize - agent events to ECS", () => {
  test("exec carries process, ancestry, user and host fields under ECS names", () => {
    const doc = ecs(EXEC_CAT_SHADOW);
    expect(doc["@timestamp"]).toBe(new Date(Math.floor(EXEC_CAT_SHADOW.timestampUs / 1000)).toISOString());
    expect(doc.event).toMatchObject({
      id: `${SAMPLE_HELLO.agentId}:17:3`,
      kind: "event",
      category: ["process"],
      type: ["start"],
      action: "exec",
      outcome: "success",
      dataset: "vigil.ftrace",
    });
    expect(doc.process).toMatchObject({
      pid: 4242,
      name: "cat",
      executable: "/usr/bin/cat",
      args: ["cat", "/etc/shadow"],
      args_count: 2,
      command_line: "cat /etc/shadow",
      working_directory: "/home/alice",
      tty: { name: "pts/1" },
      parent: {
        pid: 4100,
        executable: "/usr/bin/bash",
        command_line: "-bash",
        parent: { pid: 4000, executable: "/usr/sbin/sshd", command_line: "sshd: alice@pts/1" },
      },
    });
    expect(doc.user).toMatchObject({ id: "1000", name: "alice", effective: { id: "1000" } });
    expect(doc.host).toMatchObject({
      id: SAMPLE_HELLO.agentId,
      name: "web-01",
      os: { kernel: "6.1.0-28-amd64" },
    });
    expect(doc.agent).toEqual({ id: SAMPLE_HELLO.agentId, type: "vigil-agent", version: "0.1.0" });
  });

  test("exec: process.executable is the file that runs, the path execve got is kept when it differs; stdio in vigil.*", () => {
    const socket = {
      type: "socket",
      localIp: "10.0.3.15",
      localPort: 51234,
      remoteIp: "203.0.113.7",
      remotePort: 4444,
    };
    const event = {
      ...EXEC_CAT_SHADOW,
      collector: "driver",
      process: {
        ...EXEC_CAT_SHADOW.process,
        executable: "/usr/bin/dash",
        execFilename: "/bin/sh",
        args: ["/bin/sh"],
      },
      payload: {
        $case: "exec" as const,
        value: {
          filename: "/bin/sh",
          argv: ["/bin/sh"],
          argvTruncated: false,
          result: 0,
          stdin: socket,
          stdout: socket,
          stderr: { type: "char", localIp: "", localPort: 0, remoteIp: "", remotePort: 0 },
        },
      },
    } as typeof EXEC_CAT_SHADOW;
    const doc = ecs(event);
    expect(doc.process).toMatchObject({
      executable: "/usr/bin/dash",
      exec_filename: "/bin/sh",
      command_line: "/bin/sh",
    });
    expect(doc.vigil).toEqual({
      stdin_type: "socket",
      stdin_local_ip: "10.0.3.15",
      stdin_local_port: "51234",
      stdin_remote_ip: "203.0.113.7",
      stdin_remote_port: "4444",
      stdout_type: "socket",
      stdout_local_ip: "10.0.3.15",
      stdout_local_port: "51234",
      stdout_remote_ip: "203.0.113.7",
      stdout_remote_port: "4444",
      stderr_type: "char",
    });
    // A collector without a resolved path: the exec's filename is the executable, nothing else is added.
    const bare = ecs({
      ...EXEC_CAT_SHADOW,
      process: { ...EXEC_CAT_SHADOW.process, executable: "" },
    } as typeof EXEC_CAT_SHADOW);
    expect(bare.process.executable).toBe("/usr/bin/cat");
    expect(bare.process.exec_filename).toBeUndefined();
    expect(bare.vigil).toBeUndefined();
    // The ancestry keeps its own exec paths (a #! script runs its interpreter).
    const process = EXEC_CAT_SHADOW.process;
    if (process?.parent === undefined) throw new Error("sample event without a parent");
    const parent = { ...process.parent, executable: "/usr/bin/dash", execFilename: "/usr/sbin/dkms" };
    const child = ecs({ ...EXEC_CAT_SHADOW, process: { ...process, parent } });
    expect(child.process.parent).toMatchObject({
      executable: "/usr/bin/dash",
      exec_filename: "/usr/sbin/dkms",
    });
  });

  test("entity ids are stable for the same process and differ across processes", () => {
    const first = ecs(EXEC_CAT_SHADOW).process;
    const again = ecs(EXIT_EVENT).process;
    const other = ecs(CONNECT_OUT).process;
    expect(first.entity_id).toHaveLength(22);
    expect(first.entity_id).toBe(again.entity_id);
    expect(first.entity_id).not.toBe(other.entity_id);
    expect(first.parent.entity_id).toBe(other.parent.entity_id);
  });

  test("connect becomes a network connection with destination; EINPROGRESS is an unknown outcome", () => {
    const doc = ecs(CONNECT_OUT);
    expect(doc.event).toMatchObject({
      category: ["network"],
      type: ["connection", "start"],
      action: "connect",
      outcome: "unknown",
    });
    expect(doc.destination).toEqual({ ip: "203.0.113.7", port: 4444, address: "203.0.113.7" });
    expect(doc.network).toEqual({ transport: "tcp", type: "ipv4", direction: "egress" });
    expect(doc.source).toBeUndefined();
  });

  test("write open becomes a file change with decoded flags and path parts", () => {
    const doc = ecs(OPEN_AUTHORIZED_KEYS);
    expect(doc.event).toMatchObject({ category: ["file"], type: ["change"], action: "open-write" });
    expect(doc.file).toEqual({
      path: "/home/alice/.ssh/authorized_keys",
      name: "authorized_keys",
      directory: "/home/alice/.ssh",
      flags: ["O_WRONLY", "O_CREAT", "O_APPEND"],
      mode: "0600",
    });
  });

  test("read-only open of a sensitive file is an access, not a change", () => {
    const read = {
      ...OPEN_AUTHORIZED_KEYS,
      payload: {
        $case: "fileOpen" as const,
        value: { path: "/etc/shadow", flags: 0o2000000, mode: 0, result: 3, created: false },
      },
    };
    const doc = ecs(read);
    expect(doc.event).toMatchObject({ type: ["access"], action: "open-read" });
    expect(doc.file.flags).toEqual(["O_RDONLY", "O_CLOEXEC"]);
  });

  test("credential change records old and new ids", () => {
    const doc = ecs(SETUID_ROOT);
    expect(doc.event).toMatchObject({ category: ["process"], type: ["change"], action: "credential-change" });
    expect(doc.vigil).toMatchObject({ syscall: "setuid", old_uid: "1000", new_uid: "0", new_euid: "0" });
    expect(doc.user.changes).toEqual({ id: "0" });
  });

  test("a credential change from vigil.ko carries its capability sets by name and what it added", () => {
    const CAP_NET_RAW = 1 << 13;
    const CAP_SYS_ADMIN = 2 ** 21;
    const withCaps = (oldCapEffective: number | undefined, newCapEffective: number | undefined) => ({
      ...SETUID_ROOT,
      payload: {
        $case: "credentialChange" as const,
        value: {
          ...(SETUID_ROOT.payload?.value as object),
          syscall: "capset",
          oldUid: 1000,
          oldEuid: 1000,
          newUid: 1000,
          newEuid: 1000,
          oldCapEffective,
          newCapEffective,
        },
      },
    });
    const gained = ecs(withCaps(CAP_NET_RAW, CAP_NET_RAW + CAP_SYS_ADMIN) as typeof SETUID_ROOT);
    expect(gained.vigil).toMatchObject({
      syscall: "capset",
      old_cap_effective: "CAP_NET_RAW",
      new_cap_effective: "CAP_NET_RAW CAP_SYS_ADMIN",
      cap_added: "CAP_SYS_ADMIN",
    });
    // Root dropping everything: the empty set is left out (ECS leaves out empty values), nothing added.
    const full = 2 ** 41 - 1;
    const dropped = ecs(withCaps(full, 0) as typeof SETUID_ROOT);
    expect(dropped.vigil.old_cap_effective.split(" ")).toHaveLength(41);
    expect(dropped.vigil.old_cap_effective).toMatch(
      /^CAP_CHOWN CAP_DAC_OVERRIDE .* CAP_BPF CAP_CHECKPOINT_RESTORE$/,
    );
    expect(dropped.vigil.new_cap_effective).toBeUndefined();
    expect(dropped.vigil.cap_added).toBeUndefined();
    // A bit newer than the table is still shown.
    expect(ecs(withCaps(0, 2 ** 45) as typeof SETUID_ROOT).vigil.cap_added).toBe("CAP_45");
    // Collectors that do not see capabilities (ftrace) add none of these fields.
    const unknown = ecs(withCaps(undefined, undefined) as typeof SETUID_ROOT);
    expect(Object.keys(unknown.vigil).filter((key) => key.includes("cap"))).toEqual([]);
  });

  test("a refused connect is a failure", () => {
    const refused = {
      ...CONNECT_OUT,
      payload: {
        $case: "connect" as const,
        value: { ...(CONNECT_OUT.payload?.value as object), result: -111 },
      },
    };
    expect(ecs(refused as typeof CONNECT_OUT).event.outcome).toBe("failure");
  });

  test("exit carries the exit code, including zero", () => {
    expect(ecs(EXIT_EVENT).process.exit_code).toBe(1);
    const clean = { ...EXIT_EVENT, payload: { $case: "exit" as const, value: { exitCode: 0, signal: 0 } } };
    expect(ecs(clean).process.exit_code).toBe(0);
    expect(ecs(EXEC_CAT_SHADOW).process.exit_code).toBeUndefined();
  });

  test("a driver record without its own message keeps its fields under vigil.* with an ECS category", () => {
    const dns = {
      ...CONNECT_OUT,
      payload: {
        $case: "kernel" as const,
        value: { type: "dns", category: "network", fields: { query_name: "evil.example", query_type: "1" } },
      },
    };
    const doc = ecs(dns);
    expect(doc.event).toMatchObject({
      category: ["network"],
      type: ["protocol"],
      action: "dns",
      outcome: "success",
    });
    expect(doc.vigil).toEqual({ query_name: "evil.example", query_type: "1" });
    const unlink = {
      ...CONNECT_OUT,
      payload: {
        $case: "kernel" as const,
        value: { type: "file_unlink", category: "file", fields: { path: "/var/log/auth.log" } },
      },
    };
    expect(ecs(unlink).event).toMatchObject({
      category: ["file"],
      type: ["deletion"],
      action: "file-unlink",
    });
    expect(ecs(unlink).file).toMatchObject({
      path: "/var/log/auth.log",
      name: "auth.log",
      directory: "/var/log",
    });
  });

  test("a chmod's modes are ECS octal permission strings: file.mode is the new mode, setuid bit included", () => {
    // The driver reports inode modes in decimal: 0100755 -> 0104755 (chmod u+s).
    const chmod = {
      ...CONNECT_OUT,
      payload: {
        $case: "kernel" as const,
        value: {
          type: "file_chmod",
          category: "file",
          fields: { path: "/tmp/.x/bash", old_mode: String(0o100755), new_mode: String(0o104755) },
        },
      },
    };
    const doc = ecs(chmod);
    expect(doc.event).toMatchObject({ category: ["file"], type: ["change"], action: "file-chmod" });
    expect(doc.file).toMatchObject({ path: "/tmp/.x/bash", mode: "4755" });
    expect(doc.vigil).toMatchObject({ old_mode: "0755", new_mode: "4755" });
    // A mode that is not a u32 in decimal (a hostile or broken agent) is not invented.
    const broken = {
      ...chmod,
      payload: {
        $case: "kernel" as const,
        value: { ...chmod.payload.value, fields: { path: "/tmp/x", old_mode: "-1", new_mode: "0x9ed" } },
      },
    };
    expect(ecs(broken).file.mode).toBeUndefined();
    expect(ecs(broken).vigil).toMatchObject({ old_mode: "-1", new_mode: "0x9ed" });
  });

  test("a driver file creation and a write open carry file.mode without the file-type bits", () => {
    const create = {
      ...CONNECT_OUT,
      payload: {
        $case: "kernel" as const,
        value: {
          type: "file_create",
          category: "file",
          fields: { path: "/etc/cron.d/job", mode: String(0o2644) },
        },
      },
    };
    expect(ecs(create).file.mode).toBe("2644");
    expect(ecs(create).vigil.mode).toBe("2644");
    const open = {
      ...OPEN_AUTHORIZED_KEYS,
      payload: {
        $case: "fileOpen" as const,
        value: { path: "/usr/bin/passwd", flags: 1, mode: 0o104755, result: 3, created: false },
      },
    };
    expect(ecs(open).file.mode).toBe("4755");
  });

  test("an agent spool overflow becomes a host event carrying the loss counts by reason", () => {
    const overflow = {
      timestampUs: 1_763_900_000_000_000,
      collector: "agent",
      process: undefined,
      payload: {
        $case: "spoolOverflow" as const,
        value: {
          eventsLost: 120,
          batchesLost: 2,
          bytesFreed: 65_536,
          lostByReason: { "low-priority.fork": 100, "spool-full.exec": 20 },
          oldestLostUs: 1_763_899_000_000_000,
          newestLostUs: 1_763_899_500_000_000,
          totalEventsLost: 340,
          maxBytes: 1_048_576,
          spoolBytes: 983_040,
        },
      },
    };
    const doc = ecs(overflow);
    expect(doc.event).toMatchObject({ category: ["host"], type: ["info"], action: "spool-overflow" });
    expect(doc.vigil).toMatchObject({
      events_lost: "120",
      total_events_lost: "340",
      "lost.low-priority.fork": "100",
      "lost.spool-full.exec": "20",
    });
  });

  test("an event without payload is dropped", () => {
    expect(normalizeEvent(identity, { ...EXEC_CAT_SHADOW, payload: undefined }, position)).toBeUndefined();
  });

  test("missing agent timestamp falls back to the time the server received it", () => {
    const doc = ecs({ ...EXEC_CAT_SHADOW, timestampUs: 0 });
    expect(doc["@timestamp"]).toBe(new Date(position.receivedUs / 1000).toISOString());
  });
});
