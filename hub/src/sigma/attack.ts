// Sigma `attack.*` tags to ATT&CK techniques and tactics. Names are kept for
// the tactics and for every technique the default ruleset tags (a test walks
// rules/ to keep it so); an unknown technique id is still accepted (name
// undefined) so imported rules load.

import type { Tactic, Technique } from "./types";

export const TACTICS: Readonly<Record<string, { id: string; name: string }>> = {
  reconnaissance: { id: "TA0043", name: "Reconnaissance" },
  resource_development: { id: "TA0042", name: "Resource Development" },
  initial_access: { id: "TA0001", name: "Initial Access" },
  execution: { id: "TA0002", name: "Execution" },
  persistence: { id: "TA0003", name: "Persistence" },
  privilege_escalation: { id: "TA0004", name: "Privilege Escalation" },
  defense_evasion: { id: "TA0005", name: "Defense Evasion" },
  credential_access: { id: "TA0006", name: "Credential Access" },
  discovery: { id: "TA0007", name: "Discovery" },
  lateral_movement: { id: "TA0008", name: "Lateral Movement" },
  collection: { id: "TA0009", name: "Collection" },
  command_and_control: { id: "TA0011", name: "Command and Control" },
  exfiltration: { id: "TA0010", name: "Exfiltration" },
  impact: { id: "TA0040", name: "Impact" },
};

/** ATT&CK (Enterprise, v16) names; a sub-technique is named "<technique>: <sub-technique>" as ATT&CK's own exports do. */
export const TECHNIQUE_NAMES: Readonly<Record<string, string>> = {
  T1003: "OS Credential Dumping",
  "T1003.007": "OS Credential Dumping: Proc Filesystem",
  "T1003.008": "OS Credential Dumping: /etc/passwd and /etc/shadow",
  T1014: "Rootkit",
  T1016: "System Network Configuration Discovery",
  T1021: "Remote Services",
  "T1021.004": "Remote Services: SSH",
  T1027: "Obfuscated Files or Information",
  T1033: "System Owner/User Discovery",
  T1036: "Masquerading",
  "T1036.004": "Masquerading: Masquerade Task or Service",
  "T1036.005": "Masquerading: Match Legitimate Resource Name or Location",
  T1037: "Boot or Logon Initialization Scripts",
  "T1037.004": "Boot or Logon Initialization Scripts: RC Scripts",
  T1046: "Network Service Discovery",
  T1048: "Exfiltration Over Alternative Protocol",
  "T1048.003": "Exfiltration Over Alternative Protocol: Exfiltration Over Unencrypted Non-C2 Protocol",
  T1053: "Scheduled Task/Job",
  "T1053.003": "Scheduled Task/Job: Cron",
  "T1053.006": "Scheduled Task/Job: Systemd Timers",
  T1055: "Process Injection",
  "T1055.008": "Process Injection: Ptrace System Calls",
  T1057: "Process Discovery",
  T1059: "Command and Scripting Interpreter",
  "T1059.004": "Command and Scripting Interpreter: Unix Shell",
  "T1059.006": "Command and Scripting Interpreter: Python",
  T1068: "Exploitation for Privilege Escalation",
  T1070: "Indicator Removal",
  "T1070.002": "Indicator Removal: Clear Linux or Mac System Logs",
  "T1070.003": "Indicator Removal: Clear Command History",
  "T1070.004": "Indicator Removal: File Deletion",
  "T1070.006": "Indicator Removal: Timestomp",
  T1071: "Application Layer Protocol",
  T1082: "System Information Discovery",
  T1083: "File and Directory Discovery",
  T1098: "Account Manipulation",
  "T1098.004": "Account Manipulation: SSH Authorized Keys",
  T1105: "Ingress Tool Transfer",
  T1110: "Brute Force",
  "T1110.001": "Brute Force: Password Guessing",
  "T1110.003": "Brute Force: Password Spraying",
  T1136: "Create Account",
  "T1136.001": "Create Account: Local Account",
  T1140: "Deobfuscate/Decode Files or Information",
  T1190: "Exploit Public-Facing Application",
  T1204: "User Execution",
  T1496: "Resource Hijacking",
  T1505: "Server Software Component",
  "T1505.003": "Server Software Component: Web Shell",
  T1543: "Create or Modify System Process",
  "T1543.002": "Create or Modify System Process: Systemd Service",
  T1546: "Event Triggered Execution",
  "T1546.004": "Event Triggered Execution: Unix Shell Configuration Modification",
  T1547: "Boot or Logon Autostart Execution",
  "T1547.006": "Boot or Logon Autostart Execution: Kernel Modules and Extensions",
  T1548: "Abuse Elevation Control Mechanism",
  "T1548.001": "Abuse Elevation Control Mechanism: Setuid and Setgid",
  "T1548.003": "Abuse Elevation Control Mechanism: Sudo and Sudo Caching",
  T1552: "Unsecured Credentials",
  "T1552.001": "Unsecured Credentials: Credentials In Files",
  "T1552.004": "Unsecured Credentials: Private Keys",
  T1554: "Compromise Host Software Binary",
  T1556: "Modify Authentication Process",
  "T1556.003": "Modify Authentication Process: Pluggable Authentication Modules",
  T1560: "Archive Collected Data",
  "T1560.001": "Archive Collected Data: Archive via Utility",
  T1562: "Impair Defenses",
  "T1562.001": "Impair Defenses: Disable or Modify Tools",
  "T1562.003": "Impair Defenses: Impair Command History Logging",
  "T1562.004": "Impair Defenses: Disable or Modify System Firewall",
  "T1562.012": "Impair Defenses: Disable or Modify Linux Audit System",
  T1564: "Hide Artifacts",
  "T1564.001": "Hide Artifacts: Hidden Files and Directories",
  T1567: "Exfiltration Over Web Service",
  T1571: "Non-Standard Port",
  T1574: "Hijack Execution Flow",
  "T1574.006": "Hijack Execution Flow: Dynamic Linker Hijacking",
  T1610: "Deploy Container",
  T1611: "Escape to Host",
  T1620: "Reflective Code Loading",
};

const TECHNIQUE_TAG = /^attack\.t(\d{4})(\.\d{3})?$/;

export interface AttackMapping {
  techniques: Technique[];
  tactics: Tactic[];
}

/** Technique and tactic tags in the order written; other tags (groups, software, cve.*) are ignored here. */
export function attackFromTags(tags: readonly string[]): AttackMapping {
  const techniques: Technique[] = [];
  const tactics: Tactic[] = [];
  for (const raw of tags) {
    const tag = raw.toLowerCase();
    const technique = TECHNIQUE_TAG.exec(tag);
    if (technique !== null) {
      const id = `T${technique[1]}${technique[2] ?? ""}`;
      if (!techniques.some((t) => t.id === id)) techniques.push({ id, name: TECHNIQUE_NAMES[id] });
      continue;
    }
    if (!tag.startsWith("attack.")) continue;
    const key = tag.slice("attack.".length).replaceAll("-", "_");
    const tactic = TACTICS[key];
    if (tactic !== undefined && !tactics.some((t) => t.id === tactic.id))
      tactics.push({ ...tactic, tag: key });
  }
  return { techniques, tactics };
}
