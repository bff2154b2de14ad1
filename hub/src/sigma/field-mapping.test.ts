import { compileRule } from "./compile-rule";
import { resolveField } from "./field-mapping";
import { compileDetection, ruleYaml } from "./test-helpers";
import type { EcsDocument, LogsourceCategory } from "./types";

function rejects(detection: unknown, category: LogsourceCategory): string {
  try {
    compileRule(ruleYaml(detection, { logsource: { product: "linux", category } }), "rules/bad.yml");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the rule to be rejected");
}

describe("field-mapping - fields by category", () => {
  test.each<[string, LogsourceCategory, RegExp]>([
    [
      "DestinationPort",
      "process_creation",
      /field 'DestinationPort' is not in process_creation events \(it is in network_connection\)/,
    ],
    [
      "TargetFilename",
      "network_connection",
      /field 'TargetFilename' is not in network_connection events \(it is in file_event/,
    ],
    [
      "destination.port",
      "file_event",
      /field 'destination.port' is not in file_event events \(no 'destination' in them\)/,
    ],
    ["file.path", "process_creation", /field 'file.path' is not in process_creation events/],
    ["OriginalFileName", "process_creation", /'OriginalFileName' has no equivalent in Vigil events/],
    [
      "DestinationHostname",
      "network_connection",
      /'DestinationHostname' \(destination.domain\) is never set: vigil.ko reports DNS queries but not their answers/,
    ],
    [
      "destination.domain",
      "network_connection",
      /'destination.domain' \(Sigma DestinationHostname, is never set: .*QueryName.*DestinationIp/,
    ],
    ["Imagee", "process_creation", /unknown field 'Imagee'/],
  ])("%s in %s is refused", (field, category, message) => {
    expect(rejects({ s: { [field]: 1 }, condition: "s" }, category)).toMatch(
      new RegExp(`detection\\.s: '${field}': .*${message.source}`),
    );
  });

  test.each<[string, LogsourceCategory, string]>([
    ["Image", "network_connection", "process.executable"],
    ["GrandparentCommandLine", "file_event", "process.parent.parent.command_line"],
    ["DestinationIp", "network_connection", "destination.ip"],
    ["TargetFilename", "file_delete", "file.path"],
    ["SourceFilename", "file_rename", "vigil.old_path"],
    ["QueryName", "dns_query", "vigil.query_name"],
    ["ModuleName", "driver_load", "vigil.name"],
    ["TargetProcessId", "process_access", "vigil.target_tgid"],
    ["vigil.anything", "process_creation", "vigil.anything"],
  ])("%s in %s reads %s", (field, category, path) => {
    const resolved = resolveField(field, category);
    expect(resolved.ok && resolved.mapping.path).toBe(path);
  });
});

describe("logsource - the new categories select their events", () => {
  const kernelEvent = (
    category: string,
    type: string,
    action: string,
    extra: EcsDocument = {},
  ): EcsDocument => ({
    event: { kind: "event", category: [category], type: [type], action, module: "vigil" },
    process: { pid: 7, executable: "/usr/bin/gdb" },
    ...extra,
  });

  test("file_delete, file_rename, dns_query, driver_load, process_access", () => {
    const unlink = kernelEvent("file", "deletion", "file-unlink", { file: { path: "/var/log/auth.log" } });
    const rename = kernelEvent("file", "change", "file-rename", {
      file: { path: "/usr/bin/ls" },
      vigil: { old_path: "/tmp/ls" },
    });
    const dns = kernelEvent("network", "protocol", "dns", { vigil: { query_name: "pool.minexmr.com" } });
    const module = kernelEvent("driver", "info", "module-load", { vigil: { name: "diamorphine" } });
    const ptrace = kernelEvent("process", "info", "ptrace", { vigil: { target_tgid: "1", request: "16" } });
    const run = (category: LogsourceCategory, s: unknown, doc: EcsDocument) =>
      compileDetection({ s, condition: "s" }, category).matches(doc);

    expect(run("file_delete", { "TargetFilename|startswith": "/var/log/" }, unlink)).toBe(true);
    expect(run("file_delete", { "TargetFilename|startswith": "/var/log/" }, rename)).toBe(false);
    expect(run("file_rename", { "SourceFilename|startswith": "/tmp/" }, rename)).toBe(true);
    expect(run("file_change", { TargetFilename: "/usr/bin/ls" }, rename)).toBe(true);
    expect(run("dns_query", { "QueryName|contains": "pool." }, dns)).toBe(true);
    expect(run("driver_load", { ModuleName: "diamorphine" }, module)).toBe(true);
    expect(run("process_access", { TargetProcessId: 1, PtraceRequest: 16 }, ptrace)).toBe(true);
    expect(run("process_access", { TargetProcessId: 1 }, dns)).toBe(false);
  });
});
