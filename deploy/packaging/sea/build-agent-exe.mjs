// Builds dist/vigil-agent: the agent as one executable (Node.js single
// executable application), so a host needs no Node.js. Run from the checkout
// after `tsc -b` (npm run build:agent-exe does both):
//   node deploy/packaging/sea/build-agent-exe.mjs [--out dist/vigil-agent]
// Steps: type-check the entry, bundle it with esbuild into one CommonJS file
// (the agent's code and its npm dependencies), make a SEA blob with the
// project's Node 24, inject it into a copy of that Node binary with postject.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..", "..", "..");
const ENTRY = join(import.meta.dirname, "agent-main.ts");
// The sentinel Node.js builds into its binary for SEA (documented with postject).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
// The V8 heap flags of the agent's systemd unit (see vigil-agent.service):
// baked into the executable so every start gets them.
const AGENT_EXEC_ARGV = ["--max-semi-space-size=4", "--heap-growing-percent=20"];

const { values } = parseArgs({ options: { out: { type: "string", default: "dist/vigil-agent" } } });
const out = resolve(ROOT, values.out);
const node = process.execPath;

function run(file, args) {
  try {
    execFileSync(file, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  } catch (error) {
    process.stderr.write(`build-agent-exe: ${file} ${args.join(" ")} failed: ${error.message}\n`);
    process.exit(1);
  }
}

if (!existsSync(join(ROOT, "agent", "dist", "index.js"))) {
  process.stderr.write("build-agent-exe: agent/dist is missing: run `tsc -b` (npm run build) first\n");
  process.exit(1);
}
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  process.stderr.write(
    `build-agent-exe: needs the project's Node 24 (this is ${process.version}): ` +
      "export PATH=$PWD/node_modules/.bin:$PATH\n",
  );
  process.exit(1);
}

run(node, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", import.meta.dirname]);

const work = mkdtempSync(join(tmpdir(), "vigil-sea-"));
try {
  const bundle = join(work, "vigil-agent.cjs");
  const result = await build({
    entryPoints: [ENTRY],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    // Names stay readable in stack traces and logs.
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs).length;

  const blob = join(work, "vigil-agent.blob");
  const seaConfig = join(work, "sea-config.json");
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      // Start-up compiles nothing: V8's code cache for the bundle is in the blob.
      useCodeCache: true,
      execArgv: AGENT_EXEC_ARGV,
    }),
  );
  // V8 accepts a code cache only under the flags it was made with: the same execArgv.
  run(node, [...AGENT_EXEC_ARGV, "--experimental-sea-config", seaConfig]);

  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  copyFileSync(node, out);
  chmodSync(out, 0o755);
  run(node, [
    join(ROOT, "node_modules", "postject", "dist", "cli.js"),
    out,
    "NODE_SEA_BLOB",
    blob,
    "--sentinel-fuse",
    SEA_FUSE,
  ]);
  process.stdout.write(`build-agent-exe: ${out} (${inputs} modules bundled)\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
