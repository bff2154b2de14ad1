import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Command } from "commander";
import MarkdownIt from "markdown-it";
import { addOperatorCommands } from "../../cli/src/operator-commands";

// The README and the docs/ pages must not point at what does not exist: every
// relative link (and its #anchor) resolves, every `path/to/file` in code
// resolves from the repository root, and every `vigil <command> --option` they
// show is in the CLI's command tree, built from cli/src as `vigil completion`
// builds it.

const ROOT = join(__dirname, "..", "..");
const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];
const markdown = new MarkdownIt();

/** Built by a script, not in a checkout: where each comes from. */
const BUILD_OUTPUTS = new Map([
  ["cli/dist/main.js", "tsc -b"],
  ["dist/vigil-agent", "npm run build:agent-exe"],
  ["driver/vigil.ko", "make -C driver"],
  ["dist/packages", "npm run build:debs"],
]);

const TOP_LEVEL = new Set(readdirSync(ROOT).filter((name) => !name.startsWith(".")));
const FILE_EXTENSION =
  /\.(ts|mts|js|mjs|md|yml|yaml|json|jsonl|ndjson|sh|c|h|proto|service|conf|def|env|example|db)$/;
/** A single relative path: `hub/src/sigma/`, `rules/FIELDS.md`, `../deploy/README.md`. */
const PATH_LIKE = /^(\.\.?\/)*[A-Za-z0-9_][\w.@+-]*(\/[\w.@+-]+)*\/?$/;

type Token = MarkdownIt.Token;

interface Doc {
  file: string;
  tokens: Token[];
}

function flatten(tokens: Token[]): Token[] {
  return tokens.flatMap((token) => [token, ...flatten(token.children ?? [])]);
}

const docs: Doc[] = DOCS.map((file) => ({
  file,
  tokens: flatten(markdown.parse(readFileSync(join(ROOT, file), "utf8"), {})),
}));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(file: string): Set<string> {
  const tokens = markdown.parse(readFileSync(file, "utf8"), {});
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  tokens.forEach((token, index) => {
    if (token.type !== "heading_open") return;
    const text = (tokens[index + 1]?.children ?? [])
      .filter((child) => child.type === "text" || child.type === "code_inline")
      .map((child) => child.content)
      .join("");
    const base = slug(text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  });
  return anchors;
}

describe("docs-links - README.md and docs/*.md", () => {
  test("docs-links - the pages exist and are found", () => {
    for (const page of [
      "docs/operator-guide.md",
      "docs/rule-author-guide.md",
      "docs/analyst-guide.md",
      "docs/security-model.md",
    ]) {
      expect(DOCS).toContain(page);
    }
  });

  test("docs-links - every relative link points at an existing file and heading", () => {
    const broken: string[] = [];
    for (const { file, tokens } of docs) {
      for (const token of tokens) {
        if (token.type !== "link_open") continue;
        const href = String(token.attrGet("href") ?? "");
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:
        const [path, anchor] = href.split("#", 2);
        const target = path === "" ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURI(path));
        if (!existsSync(target)) {
          broken.push(`${file}: ${href} (no ${relative(ROOT, target)})`);
          continue;
        }
        if (anchor && target.endsWith(".md") && !anchorsOf(target).has(anchor))
          broken.push(`${file}: ${href} (no heading #${anchor} in ${relative(ROOT, target)})`);
      }
    }
    expect(broken).toEqual([]);
  });

  test("docs-links - every path/to/file in code points at an existing file", () => {
    const missing: string[] = [];
    let checked = 0;
    for (const { file, tokens } of docs) {
      for (const token of tokens) {
        if (token.type !== "code_inline") continue;
        const text = token.content.trim();
        if (!PATH_LIKE.test(text) || !text.includes("/")) continue;
        const relativeToDoc = text.startsWith("./") || text.startsWith("../");
        const first = text.split("/")[0] ?? "";
        if (!relativeToDoc && !TOP_LEVEL.has(first) && !FILE_EXTENSION.test(text)) continue;
        checked += 1;
        const target = relativeToDoc ? resolve(ROOT, dirname(file), text) : join(ROOT, text);
        const path = relative(ROOT, target);
        if (!existsSync(target) && !BUILD_OUTPUTS.has(path)) missing.push(`${file}: \`${text}\``);
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  test("docs-links - the build outputs named in the docs are what their scripts make", () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
      string,
      string
    >;
    expect(scripts.build).toBe("tsc -b");
    expect(scripts["build:agent-exe"]).toContain("build-agent-exe.mjs");
    expect(readFileSync(join(ROOT, "deploy/packaging/sea/build-agent-exe.mjs"), "utf8")).toContain(
      "vigil-agent",
    );
    expect(readFileSync(join(ROOT, "driver/Kbuild"), "utf8")).toMatch(/obj-m \+= vigil\.o/);
    expect(scripts["build:debs"]).toContain("build-debs.sh");
    expect(readFileSync(join(ROOT, "deploy/packaging/build-debs.sh"), "utf8")).toContain("dist/packages");
  });
});

// ---- the CLI's command tree -------------------------------------------------

interface CliNode {
  names: string[];
  options: Set<string>;
  children: CliNode[];
  /** commander's default subcommand (`vigil agents` = `vigil agents list`). */
  defaultChild?: string;
}

function nodeOf(command: Command): CliNode {
  return {
    names: [command.name(), ...command.aliases()],
    options: new Set([...command.options.map((option) => option.long ?? ""), "--help"]),
    children: command.commands.map(nodeOf),
    // Not in commander's typings; the name its isDefault option records.
    defaultChild: (command as unknown as { _defaultCommandName?: string })._defaultCommandName,
  };
}

/**
 * The operator commands as the CLI adds them, plus the programs main.ts adds
 * itself (start, server, hub, agent). main.ts runs the CLI when imported, so
 * those are read from its source: their names, and as their options every
 * long option main.ts declares.
 */
function cliTree(): CliNode {
  const root = new Command("vigil");
  addOperatorCommands(root);
  const tree = nodeOf(root);
  const main = readFileSync(join(ROOT, "cli/src/main.ts"), "utf8");
  const direct = [...main.matchAll(/\.command\("([a-z-]+)"\)/g)].map((match) => match[1] as string);
  const programs = main.slice(main.indexOf("const programs"), main.indexOf("for (const [name"));
  const fromList = [...programs.matchAll(/\[\s*"([a-z-]+)",/g)].map((match) => match[1] as string);
  const options = new Set([...main.matchAll(/--[a-z][a-z-]*/g)].map((match) => match[0]));
  options.add("--help");
  if (direct.length === 0 || fromList.length === 0)
    throw new Error("cli/src/main.ts no longer declares its commands as this test reads them: update it");
  for (const name of [...direct, ...fromList]) tree.children.push({ names: [name], options, children: [] });
  return tree;
}

/** `vigil rules push --dry-run` → null when it exists, else what is wrong. */
function checkCommand(tree: CliNode, words: string[]): string | null {
  let node = tree;
  let index = 0;
  for (; index < words.length; index += 1) {
    const word = words[index] as string;
    if (!/^[a-z][a-z-]*$/.test(word) || node.children.length === 0) break;
    const child = node.children.find((candidate) => candidate.names.includes(word));
    if (!child) return `no command '${word}' under '${node.names[0]}'`;
    node = child;
  }
  if (node.children.length > 0 && node.defaultChild)
    node = node.children.find((child) => child.names.includes(node.defaultChild as string)) ?? node;
  for (const word of words.slice(index)) {
    const flag = word.split("=")[0] as string;
    if (flag.startsWith("--") && /^--[a-z][a-z-]*$/.test(flag) && !node.options.has(flag))
      return `no option ${flag} on '${node.names[0]}'`;
  }
  return null;
}

/**
 * Every `vigil …` (or `cli/dist/main.js …`) in the code of a page, up to a pipe, ;, && or #;
 * not a `vigil` that is an option's value (`kubectl -n vigil …`).
 */
function commandsIn(code: string): string[][] {
  const found: string[][] = [];
  const text = code.replace(/\\\n\s*/g, " ");
  for (const match of text.matchAll(
    /(?<![\w/.-])(?<!\s-[\w-]*\s+)(?:vigil|cli\/dist\/main\.js)(?= |$)([^\n|;&#`)]*)/gm,
  )) {
    found.push((match[1] ?? "").trim().split(/\s+/).filter(Boolean));
  }
  return found;
}

describe("docs-links - vigil commands in the docs", () => {
  const tree = cliTree();

  test("docs-links - the tree knows a wrong command or option from a right one", () => {
    expect(checkCommand(tree, ["rules", "push", "--dry-run"])).toBeNull();
    expect(checkCommand(tree, ["agents", "--status", "stale"])).toBeNull();
    expect(checkCommand(tree, ["start", "--replay", "x.jsonl"])).toBeNull();
    expect(checkCommand(tree, ["rules", "pull"])).toBe("no command 'pull' under 'rules'");
    expect(checkCommand(tree, ["alerts", "--tail"])).toBe("no option --tail on 'alerts'");
    expect(
      commandsIn("npx vigil alerts -f --nats | head\nvigil-agent --check-config\nkubectl -n vigil get pods"),
    ).toEqual([["alerts", "-f", "--nats"]]);
  });

  test("docs-links - every vigil command and long option shown exists in the CLI", () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const { file, tokens } of docs) {
      for (const token of tokens) {
        if (!["code_inline", "fence", "code_block"].includes(token.type)) continue;
        for (const words of commandsIn(token.content)) {
          checked += 1;
          const problem = checkCommand(tree, words);
          if (problem) wrong.push(`${file}: vigil ${words.join(" ")}: ${problem}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });
});
