// Sigma `attack.*` tags to ATT&CK techniques and tactics. Names are kept for
// the tactics and for the techniques the default ruleset uses; an unknown
// technique id is still accepted (name undefined) so imported rules load.

import type { Tactic, Technique } from "./types";

const TACTICS: Readonly<Record<string, { id: string; name: string }>> = {
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

const TECHNIQUE_NAMES: Readonly<Record<string, string>> = {
  T1003: "OS Credential Dumping",
  "T1003.008": "OS Credential Dumping: /etc/passwd and /etc/shadow",
  T1014: "Rootkit",
  T1059: "Command and Scripting Interpreter",
  "T1059.004": "Command and Scripting Interpreter: Unix Shell",
  "T1059.006": "Command and Scripting Interpreter: Python",
  T1070: "Indicator Removal",
  "T1070.003": "Indicator Removal: Clear Command History",
  T1098: "Account Manipulation",
  "T1098.004": "Account Manipulation: SSH Authorized Keys",
  T1105: "Ingress Tool Transfer",
  T1136: "Create Account",
  "T1136.001": "Create Account: Local Account",
  T1053: "Scheduled Task/Job",
  "T1053.003": "Scheduled Task/Job: Cron",
  T1547: "Boot or Logon Autostart Execution",
  "T1547.006": "Boot or Logon Autostart Execution: Kernel Modules and Extensions",
  T1548: "Abuse Elevation Control Mechanism",
  "T1548.001": "Abuse Elevation Control Mechanism: Setuid and Setgid",
  "T1548.003": "Abuse Elevation Control Mechanism: Sudo and Sudo Caching",
  T1068: "Exploitation for Privilege Escalation",
  T1071: "Application Layer Protocol",
  T1571: "Non-Standard Port",
  T1574: "Hijack Execution Flow",
  "T1574.006": "Hijack Execution Flow: Dynamic Linker Hijacking",
  T1036: "Masquerading",
  T1204: "User Execution",
  T1562: "Impair Defenses",
  "T1562.003": "Impair Defenses: Impair Command History Logging",
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
