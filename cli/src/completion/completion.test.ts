import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { addOperatorCommands } from "../operator-commands";
import { allNodes, commandTree } from "./command-tree";
import { commandPaths, completionScript } from "./completion-scripts";

// `vigil completion bash|zsh|fish`: generated from the real command tree, so
// every command is in it; bash accepts the script and completes from it.

function program(): Command {
  const root = new Command("vigil");
  root.command("start").option("--data-dir <dir>", "data");
  addOperatorCommands(root);
  return root;
}

function which(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

describe("completion - scripts from the command tree", () => {
  const tree = commandTree(program());
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cli-completion-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("completion - the tree holds every command of the issue", () => {
    const paths = commandPaths(tree);
    for (const path of [
      "vigil agents list",
      "vigil agents show",
      "vigil alerts",
      "vigil alerts context",
      "vigil events",
      "vigil events search",
      "vigil events tree",
      "vigil rules push",
      "vigil rules validate",
      "vigil rules test",
      "vigil rules enable",
      "vigil rules disable",
      "vigil rules history",
      "vigil rules rollback",
      "vigil tasks run",
      "vigil tasks show",
      "vigil tokens create",
      "vigil tokens revoke",
      "vigil tokens list",
      "vigil status",
      "vigil completion",
      "vigil start",
    ]) {
      expect(paths).toContain(path);
    }
  });

  test.each(["bash", "zsh", "fish"] as const)(
    "completion - the %s script names every command and option",
    (shell) => {
      const script = completionScript(shell, tree);
      for (const node of allNodes(tree)) {
        for (const name of node.names) expect(script).toContain(name);
        for (const option of node.options)
          for (const flag of option.flags) expect(script).toContain(flag.replace(/^-+/, ""));
      }
    },
  );

  test("completion - bash -n accepts the script, and it completes subcommands, options and choices", () => {
    if (!which("bash")) throw new Error("bash is required for this test: apt-get install bash");
    const file = join(dir, "vigil.bash");
    writeFileSync(file, completionScript("bash", tree));
    const syntax = spawnSync("bash", ["-n", file], { encoding: "utf8" });
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);

    const complete = (words: string[]) => {
      const line = words.map((word) => `'${word}'`).join(" ");
      const run = spawnSync(
        "bash",
        [
          "-c",
          `source '${file}'; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _vigil; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8" },
      );
      expect(run.stderr).toBe("");
      return run.stdout.split("\n").filter(Boolean).sort();
    };
    expect(complete(["vigil", ""])).toEqual(
      expect.arrayContaining([
        "agents",
        "alerts",
        "rules",
        "tasks",
        "tokens",
        "status",
        "completion",
        "start",
      ]),
    );
    expect(complete(["vigil", "ru"])).toEqual(["rules"]);
    expect(complete(["vigil", "rules", "p"])).toEqual(["push"]);
    expect(complete(["vigil", "rules", "push", "--d"])).toEqual(["--disabled", "--dry-run"]);
    expect(complete(["vigil", "alerts", "--level", ""])).toEqual([
      "critical",
      "high",
      "informational",
      "low",
      "medium",
    ]);
    expect(complete(["vigil", "agents", "list", "--status", "o"])).toEqual(["offline", "online"]);
    expect(complete(["vigil", "completion", ""])).toEqual(expect.arrayContaining(["--help"]));
    expect(complete(["vigil", "events", ""])).toEqual(expect.arrayContaining(["search", "tree"]));
    expect(complete(["vigil", "events", "tree", "--e"])).toEqual(["--entity-id", "--events-per-process"]);
    expect(complete(["vigil", "alerts", "context", "--m"])).toEqual(["--max-processes", "--minutes"]);
  });

  test("completion - zsh -n and fish --no-execute accept their scripts", () => {
    for (const [shell, args] of [
      ["zsh", ["-n"]],
      ["fish", ["--no-execute"]],
    ] as const) {
      if (!which(shell)) throw new Error(`${shell} is required for this test: apt-get install ${shell}`);
      const file = join(dir, `vigil.${shell}`);
      writeFileSync(file, completionScript(shell, tree));
      const run = spawnSync(shell, [...args, file], { encoding: "utf8" });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
    }
  });
});
