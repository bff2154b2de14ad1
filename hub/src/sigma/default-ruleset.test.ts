// The shipped ruleset under rules/: every rule (base and correlation) loads,
// has test events, carries ATT&CK, and passes its tests through the same
// runner `vigil rules test` uses; the detection areas the default ruleset
// promises are each covered by named rules, so removing one fails here.
// Test events must have the server's ECS shape.

import { basename, join } from "node:path";
import { RuleTestRunner } from "../rule-tests/rule-test-runner";
import { listRuleFiles } from "./load-ruleset";
import type { EcsDocument } from "./types";

const RULES_DIR = join(__dirname, "..", "..", "..", "rules");

const runner = RuleTestRunner.load(RULES_DIR);
const { rules, correlations, errors } = runner.compiled;
const everyRule = [...rules, ...correlations];
const fileOf = (rule: { source: string }) => basename(rule.source, ".yml");
const byFile = new Map(everyRule.map((rule) => [fileOf(rule), rule]));
const testedIds = new Set(runner.files.map(({ test }) => test.rule));

/**
 * What the default ruleset promises to detect (issue 6), each by the rule
 * files that do it. Every file must exist, load and be tested.
 */
const COVERAGE: Record<string, string[]> = {
  "reverse shell": [
    "proc_creation_lnx_reverse_shell_dev_tcp",
    "proc_creation_lnx_reverse_shell_netcat",
    "proc_creation_lnx_reverse_shell_socat",
    "proc_creation_lnx_reverse_shell_interpreter",
    "proc_creation_lnx_shell_socket_stdio",
    "net_connection_lnx_shell_nonstandard_port",
  ],
  "bind shell": ["net_connection_lnx_shell_listening_socket", "proc_creation_lnx_shell_socket_stdio"],
  "shell spawned by a web server": ["proc_creation_lnx_webserver_spawns_shell"],
  "shell spawned by a database": ["proc_creation_lnx_database_spawns_shell"],
  "credential access: /etc/shadow": [
    "proc_creation_lnx_shadow_file_read",
    "file_access_lnx_shadow_unexpected_reader",
  ],
  "credential access: SSH private keys": [
    "proc_creation_lnx_ssh_private_key_access",
    "file_access_lnx_ssh_private_key_read",
  ],
  "credential access: credential search with grep/find": ["proc_creation_lnx_credential_search"],
  "credential access: process memory": ["proc_access_lnx_credential_process_memory"],
  "persistence: cron": ["file_event_lnx_cron_modification", "proc_creation_lnx_crontab_from_file"],
  "persistence: systemd units": ["file_event_lnx_systemd_unit_persistence"],
  "persistence: shell rc files": ["file_event_lnx_shell_profile_modification"],
  "persistence: authorized_keys": ["file_event_lnx_ssh_authorized_keys"],
  "persistence: ld.so.preload": ["file_event_lnx_ld_so_preload", "proc_creation_lnx_ld_preload_command_line"],
  "persistence: new users": [
    "proc_creation_lnx_account_creation",
    "file_event_lnx_account_database_modified",
  ],
  "persistence: boot and login scripts, PAM": [
    "file_event_lnx_init_script_persistence",
    "file_event_lnx_pam_modification",
    "file_event_lnx_system_binary_modified",
  ],
  "privilege escalation: setuid change": ["proc_creation_lnx_setuid_bit_set"],
  "privilege escalation: uid 0 from a non-root parent": ["priv_change_lnx_root_from_unprivileged"],
  "privilege escalation: sudoers change": [
    "file_event_lnx_sudoers_modification",
    "proc_creation_lnx_privilege_grant_command",
  ],
  "privilege escalation: capabilities": ["proc_creation_lnx_setcap_dangerous_capability"],
  "privilege escalation: GTFOBins and enumeration": [
    "proc_creation_lnx_gtfobins_shell_escape",
    "proc_creation_lnx_suid_binary_discovery",
    "proc_creation_lnx_privesc_enumeration_script",
  ],
  "defense evasion: log clearing": [
    "proc_creation_lnx_log_clearing",
    "proc_creation_lnx_audit_rules_deleted",
  ],
  "defense evasion: history deletion": [
    "proc_creation_lnx_history_tampering",
    "file_delete_lnx_shell_history_deleted",
  ],
  "defense evasion: timestomp": ["proc_creation_lnx_timestomp"],
  "defense evasion: execution from /dev/shm": ["proc_creation_lnx_exec_from_temp_dir"],
  "defense evasion: execution from memfd": ["proc_creation_lnx_exec_from_memfd"],
  "defense evasion: hidden files in /tmp": ["file_event_lnx_hidden_file_in_temp"],
  "defense evasion: process name masquerading": [
    "proc_creation_lnx_kernel_thread_masquerade",
    "proc_creation_lnx_system_binary_name_unusual_path",
  ],
  "defense evasion: kernel module load": [
    "proc_creation_lnx_kernel_module_load",
    "driver_load_lnx_module_unusual_loader",
    "driver_load_lnx_known_rootkit_module",
    "kernel_integrity_lnx_rootkit_indicator",
  ],
  "defense evasion: security tools disabled": ["proc_creation_lnx_disable_security_tools"],
  "discovery bursts (correlation)": [
    "corr_lnx_discovery_burst",
    "proc_creation_lnx_system_discovery_command",
  ],
  "lateral movement: ssh from unusual parents": [
    "proc_creation_lnx_ssh_unusual_parent",
    "proc_creation_lnx_sshpass_usage",
  ],
  exfiltration: ["proc_creation_lnx_curl_upload_data", "proc_creation_lnx_data_piped_to_network_tool"],
  "download and execute (curl|sh)": [
    "proc_creation_lnx_download_piped_to_shell",
    "proc_creation_lnx_download_chmod_exec",
    "proc_creation_lnx_base64_decoded_to_shell",
  ],
  "cryptominers: stratum": ["proc_creation_lnx_cryptominer_command_line"],
  "cryptominers: pool ports and domains": [
    "net_connection_lnx_mining_pool",
    "dns_query_lnx_mining_pool_domain",
  ],
  "cryptominers: known miners": ["proc_creation_lnx_known_miner_binary"],
  "container escape: release_agent": ["proc_creation_lnx_cgroup_release_agent"],
  "container escape: mounting host file systems": [
    "proc_creation_lnx_container_mount_host_fs",
    "proc_creation_lnx_privileged_container_host_root",
  ],
  "container escape: nsenter": ["proc_creation_lnx_nsenter_host_namespaces"],
  "ptrace injection": [
    "proc_access_lnx_ptrace_attach_non_debugger",
    "proc_creation_lnx_gdb_process_injection",
    "proc_creation_lnx_ptrace_scope_lowered",
  ],
  "SSH brute force (correlation)": ["corr_lnx_ssh_brute_force", "proc_creation_lnx_sshd_inbound_connection"],
};

/** Correlations each area needs to be a correlation (the issue asks for these two as correlations). */
const CORRELATION_AREAS: Record<string, string> = {
  "discovery bursts (correlation)": "corr_lnx_discovery_burst",
  "SSH brute force (correlation)": "corr_lnx_ssh_brute_force",
};

function expectEcsShape(doc: EcsDocument, where: string): void {
  const event = doc.event as Record<string, unknown> | undefined;
  const problems: string[] = [];
  if (typeof doc["@timestamp"] !== "string" || Number.isNaN(Date.parse(doc["@timestamp"] as string))) {
    problems.push("@timestamp must be an ISO string");
  }
  if (event === undefined) problems.push("event missing");
  else {
    if (event.kind !== "event") problems.push("event.kind must be 'event'");
    if (event.module !== "vigil") problems.push("event.module must be 'vigil'");
    if (typeof event.id !== "string" || event.id === "") problems.push("event.id missing");
    if (!Array.isArray(event.category) || !Array.isArray(event.type))
      problems.push("event.category/type must be lists");
    if (typeof event.action !== "string") problems.push("event.action missing");
  }
  if (typeof (doc.host as Record<string, unknown> | undefined)?.name !== "string")
    problems.push("host.name missing");
  if ((doc.agent as Record<string, unknown> | undefined)?.type !== "vigil-agent")
    problems.push("agent.type must be vigil-agent");
  const process = doc.process as Record<string, unknown> | undefined;
  if (process !== undefined) {
    if (process.pid !== undefined && typeof process.pid !== "number")
      problems.push("process.pid must be a number");
    if (Array.isArray(process.args) && typeof process.command_line === "string") {
      if ((process.args as string[]).join(" ") !== process.command_line)
        problems.push("command_line must be args joined");
    }
  }
  const port = (doc.destination as Record<string, unknown> | undefined)?.port;
  if (port !== undefined && typeof port !== "number") problems.push("destination.port must be a number");
  expect({ where, problems }).toEqual({ where, problems: [] });
}

describe("default ruleset - loading", () => {
  test("every rule file loads without errors, one rule per file", () => {
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(everyRule.length).toBe(listRuleFiles(RULES_DIR).length);
  });

  test("at least 50 Linux detections besides the correlations", () => {
    expect(rules.length).toBeGreaterThanOrEqual(50);
    expect(correlations.length).toBeGreaterThanOrEqual(2);
  });

  test("rule ids are unique across base and correlation rules", () => {
    const ids = everyRule.map((rule) => rule.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  test("every rule has a test file, and every test file is about a rule and well-formed", () => {
    expect(everyRule.filter((rule) => !testedIds.has(rule.id)).map(fileOf)).toEqual([]);
    const problems = runner.files.flatMap(({ file, test }) =>
      runner.describe(test).problems.map((problem) => `${file}: ${problem}`),
    );
    expect(problems).toEqual([]);
    // Test files are named after their rule's file.
    const misnamed = runner.files
      .filter(({ file, test }) => byFile.get(basename(file, ".yml"))?.id !== test.rule)
      .map(({ file }) => file);
    expect(misnamed).toEqual([]);
  });

  test("every base rule has at least two events that fire it and two that do not", () => {
    const thin = runner.files
      .filter(({ test }) => runner.describe(test).kind === "rule")
      .filter(({ test }) => {
        const count = (kind: string) => test.cases.filter((c) => c.expect === kind).length;
        return count("match") < 2 || count("no_match") < 2;
      })
      .map(({ file }) => file);
    expect(thin).toEqual([]);
  });

  test("every correlation has a sequence that fires it and one that does not", () => {
    const thin = runner.files
      .filter(({ test }) => runner.describe(test).kind === "correlation")
      .filter(({ test }) => {
        const count = (kind: string) => test.cases.filter((c) => c.expect === kind).length;
        return count("fires") < 1 || count("no_fire") < 1;
      })
      .map(({ file }) => file);
    expect(thin).toEqual([]);
  });

  test("every rule maps to an ATT&CK technique and tactic, names its author and references, and says what can go wrong", () => {
    const missing = everyRule.flatMap((rule) => {
      const gaps = [
        rule.techniques.length === 0 ? "technique" : "",
        rule.tactics.length === 0 ? "tactic" : "",
        rule.falsepositives.length === 0 ? "falsepositives" : "",
        rule.description.trim() === "" ? "description" : "",
        rule.author.trim() === "" ? "author" : "",
        rule.references.length === 0 ? "references" : "",
      ].filter((gap) => gap !== "");
      return gaps.length === 0 ? [] : [`${fileOf(rule)}: ${gaps.join(", ")}`];
    });
    expect(missing).toEqual([]);
  });

  test("informational rules exist only to feed a correlation (they never alert on their own)", () => {
    const fed = new Set(correlations.flatMap((correlation) => correlation.referenced.map((r) => r.id)));
    const loose = rules.filter((rule) => rule.level === "informational" && !fed.has(rule.id)).map(fileOf);
    expect(loose).toEqual([]);
  });

  test.each(Object.entries(COVERAGE))("covers %s", (_area, files) => {
    for (const file of files) {
      const rule = byFile.get(file);
      expect({ file, loaded: rule !== undefined }).toEqual({ file, loaded: true });
      expect({ file, tested: rule !== undefined && testedIds.has(rule.id) }).toEqual({ file, tested: true });
    }
  });

  test.each(Object.entries(CORRELATION_AREAS))("%s is a correlation rule", (_area, file) => {
    expect(correlations.map(fileOf)).toContain(file);
  });
});

describe.each(runner.files.map(({ file, test: tests }) => [file, tests] as const))(
  "default ruleset - %s",
  (_file, tests) => {
    const kind = runner.describe(tests).kind;
    const events = tests.cases.filter((c) => c.expect === "match" || c.expect === "no_match");
    const sequences = tests.cases.filter((c) => c.expect === "fires" || c.expect === "no_fire");

    // jest refuses an empty table: a file without cases of one kind defines no such tests.
    if (events.length > 0)
      test.each(
        events.map((c) => [c.expect === "match" ? "fires on" : "stays quiet on", c.name, c] as const),
      )("%s: %s", (_verb, name, testCase) => {
        expect(kind).toBe("rule");
        expectEcsShape(testCase.events[0], `${_file}: ${name}`);
        expect(runner.checkEvent(tests.rule, testCase)).toEqual({ name, expect: testCase.expect, ok: true });
      });

    if (sequences.length > 0)
      test.each(
        sequences.map(
          (c) => [c.expect === "fires" ? "fires once at the end of" : "stays quiet on", c.name, c] as const,
        ),
      )("%s: %s", async (_verb, name, testCase) => {
        expect(kind).toBe("correlation");
        for (const [index, event] of testCase.events.entries())
          expectEcsShape(event, `${_file}: ${name} #${index + 1}`);
        expect(await runner.checkSequence(tests.rule, testCase)).toEqual({
          name,
          expect: testCase.expect,
          ok: true,
        });
      });
  },
);
