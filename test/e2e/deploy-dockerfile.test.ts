import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { DEFAULT_RULES_DIR } from "@vigil/hub";

// The Dockerfile cannot be built here (no Docker engine): its sources, build
// outputs, entry point and user are checked against the repository instead.

const ROOT = join(__dirname, "..", "..");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8")
  .replace(/\\\n/g, " ")
  .split("\n")
  .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "" && !line.startsWith("#"));

function instructions(keyword: string): string[] {
  return dockerfile
    .filter((line) => line.startsWith(`${keyword} `))
    .map((line) => line.slice(keyword.length + 1));
}

/** [sources, destination, from-stage] of each COPY. */
function copies(): Array<{ from?: string; sources: string[]; destination: string }> {
  return instructions("COPY").map((line) => {
    const words = line.split(/\s+/);
    const from = words[0].startsWith("--from=") ? words.shift()?.slice("--from=".length) : undefined;
    const destination = words.pop() ?? "";
    return { from, sources: words, destination };
  });
}

/** The workspaces that `tsc -b cli` builds: cli and its project references. */
function builtWorkspaces(): string[] {
  const tsconfig = JSON.parse(readFileSync(join(ROOT, "cli", "tsconfig.json"), "utf8")) as {
    references: Array<{ path: string }>;
  };
  return ["cli", ...tsconfig.references.map((reference) => reference.path.replace(/^\.\.\//, ""))];
}

describe("deploy - the Dockerfile builds the Vigil image from this repository", () => {
  test("deploy-dockerfile - multi-stage: a build stage and a runtime stage on the same Node 24 image", () => {
    expect(instructions("ARG")).toContain("NODE_IMAGE=node:24-bookworm-slim");
    const image = "$" + "{NODE_IMAGE}"; // the Dockerfile's ARG, not a template
    expect(instructions("FROM")).toEqual([`${image} AS build`, `${image} AS runtime`]);
    const run = instructions("RUN").join("\n");
    expect(run).toContain("npm install --ignore-scripts");
    expect(run).toContain("node_modules/.bin/tsc -b cli");
    expect(run).toContain("npm prune --omit=dev");
  });

  test("deploy-dockerfile - every COPY from the build context exists and is not .dockerignore'd", () => {
    for (const { from, sources } of copies()) {
      if (from) continue;
      for (const source of sources) {
        expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
        const top = source.replace(/\/$/, "");
        expect({ source, ignored: ignored.some((pattern) => pattern.replace(/\/$/, "") === top) }).toEqual({
          source,
          ignored: false,
        });
      }
    }
  });

  test("deploy-dockerfile - every compiled workspace the runtime copies is one `tsc -b cli` builds into dist/", () => {
    const built = builtWorkspaces();
    const copiedDist = copies()
      .filter(({ from }) => from === "build")
      .flatMap(({ sources }) => sources)
      .map((source) => /^\/src\/([a-z]+)\/dist\/$/.exec(source)?.[1])
      .filter((workspace): workspace is string => workspace !== undefined);
    const workspaces = (
      JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] }
    ).workspaces;
    expect(copiedDist.sort()).toEqual([...workspaces].sort());
    expect(built.sort()).toEqual([...workspaces].sort());
    for (const workspace of workspaces) {
      const tsconfig = JSON.parse(readFileSync(join(ROOT, workspace, "tsconfig.json"), "utf8")) as {
        compilerOptions: { outDir: string };
      };
      expect({ workspace, outDir: tsconfig.compilerOptions.outDir }).toEqual({ workspace, outDir: "dist" });
    }
  });

  test("deploy-dockerfile - the entry point is the vigil CLI, compiled from cli/src/main.ts", () => {
    expect(instructions("WORKDIR")).toEqual(["/src", "/opt/vigil"]);
    expect(instructions("ENTRYPOINT")).toEqual(['["node", "/opt/vigil/cli/dist/main.js"]']);
    expect(existsSync(join(ROOT, "cli", "src", "main.ts"))).toBe(true);
    const main = readFileSync(join(ROOT, "cli", "src", "main.ts"), "utf8");
    for (const program of ["server", "hub", "agent"]) expect(main).toContain(`"${program}",`);
  });

  test("deploy-dockerfile - the default ruleset sits where the hub looks for it", () => {
    // DEFAULT_RULES_DIR is hub/dist/../../rules; in the image hub/dist is /opt/vigil/hub/dist.
    expect(relative(join(ROOT, "hub", "src"), DEFAULT_RULES_DIR)).toBe(join("..", "..", "rules"));
    expect(copies()).toContainEqual({ sources: ["rules/"], destination: "rules/" });
    expect(resolve("/opt/vigil/hub/dist", "../../rules")).toBe("/opt/vigil/rules");
  });

  test("deploy-dockerfile - server and hub run as an unprivileged user whose group may read the server key", () => {
    expect(instructions("USER")).toEqual(["vigil"]);
    const run = instructions("RUN").join("\n");
    expect(run).toMatch(/groupadd --system --gid 10001 vigil/);
    expect(run).toMatch(/useradd --system --uid 10001 --gid vigil /);
    // setup-stack.sh hands the servers' TLS key to that group.
    expect(readFileSync(join(ROOT, "deploy", "compose", "setup-stack.sh"), "utf8")).toContain(
      "vigil_gid=10001",
    );
  });

  test("deploy-dockerfile - .dockerignore keeps builds, dependencies and secrets out of the context", () => {
    expect(ignored).toEqual(
      expect.arrayContaining(["**/node_modules", "**/dist", ".env", "**/.env", ".git"]),
    );
  });
});
