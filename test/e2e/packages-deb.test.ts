import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_VERSION } from "@vigil/agent";
import { freeLoopbackPort } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";
import { type Chroot, newChroot, requirePackageTools } from "./packages-chroot";

// The .deb packages as an operator installs them: built from the checkout
// (deploy/packaging/build-debs.sh, with the agent executable built here), then
// `dpkg -i` into a fresh minimal Debian (debootstrap chroot, no Node.js, service
// starts refused by policy-rc.d). Files, owners, modes, the system user, the
// conffiles, the programs running inside, the units (systemd-analyze verify and
// security), the driver source building with DKMS, and reinstall / remove /
// purge behaving.

const ROOT = join(__dirname, "..", "..");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const SCENARIO = join(__dirname, "scenarios", "reverse-shell.jsonl");
const EXPECTED = join(__dirname, "scenarios", "reverse-shell.expected.json");
const UNITS = ["vigil-agent", "vigil-server", "vigil-hub"] as const;
/**
 * Highest exposure (systemd-analyze security, x10) each unit may have: the
 * scores of the hardened units under systemd 252, so lost hardening fails here.
 */
const EXPOSURE_LIMIT: Record<(typeof UNITS)[number], number> = {
  "vigil-agent": 35,
  "vigil-server": 11,
  "vigil-hub": 11,
};

let work: string;
let debs: { agent: string; main: string };
let chroot: Chroot;

function dpkgInstall(): string {
  return chroot.check(["dpkg", "-i", `/tmp/${debs.agent}`, `/tmp/${debs.main}`], 300_000);
}

/** "<octal mode> <user>:<group>" of a path inside the chroot. */
function statInside(path: string): string {
  return chroot.check(["stat", "-c", "%a %U:%G", path]).trim();
}

function enabledUnits(): string[] {
  const wants = join(chroot.dir, "etc/systemd/system/multi-user.target.wants");
  return existsSync(wants) ? readdirSync(wants).filter((name) => name.startsWith("vigil")) : [];
}

beforeAll(() => {
  requirePackageTools();
  if (!existsSync(join(ROOT, "cli", "dist", "main.js"))) {
    throw new Error("cli/dist is missing: run `npm run build` first (`npm test` builds before jest)");
  }
  work = mkdtempSync(join(tmpdir(), "packages-deb-"));
  const exe = join(work, "vigil-agent");
  execFileSync(process.execPath, [join(ROOT, "deploy/packaging/sea/build-agent-exe.mjs"), "--out", exe], {
    cwd: ROOT,
    stdio: "pipe",
    timeout: 180_000,
  });
  execFileSync("bash", [join(ROOT, "deploy/packaging/build-debs.sh"), join(work, "debs")], {
    cwd: ROOT,
    env: { ...process.env, AGENT_EXE: exe },
    stdio: "pipe",
    timeout: 300_000,
  });
  debs = { agent: `vigil-agent_${VERSION}_amd64.deb`, main: `vigil_${VERSION}_amd64.deb` };
  chroot = newChroot();
  for (const deb of Object.values(debs)) copyFileSync(join(work, "debs", deb), join(chroot.dir, "tmp", deb));
}, 900_000);

afterAll(() => {
  chroot?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("packages - .deb installed into a debootstrap chroot", () => {
  test("deb - both packages install with dpkg -i on a Debian without Node.js, nothing enabled or started", () => {
    expect(chroot.run(["sh", "-c", "command -v node nodejs"]).status).not.toBe(0);
    const output = dpkgInstall();
    expect(output).toContain(`Setting up vigil-agent (${VERSION})`);
    expect(output).toContain(`Setting up vigil (${VERSION})`);
    for (const name of ["vigil-agent", "vigil"]) {
      expect(chroot.check(["dpkg-query", "-W", "-f", `\${Status} \${Version}`, name])).toBe(
        `install ok installed ${VERSION}`,
      );
    }
    // The agent needs its servers and token first: the operator enables it.
    expect(enabledUnits()).toEqual([]);
  });

  test("deb - files, owners and modes", () => {
    const expected: Record<string, string> = {
      "/usr/sbin/vigil-agent": "755 root:root",
      "/usr/bin/vigil": "755 root:root",
      "/usr/lib/vigil/node": "755 root:root",
      "/etc/vigil": "755 root:root",
      "/etc/vigil/agent.yaml": "600 root:root",
      "/etc/vigil/server.yaml": "640 root:vigil",
      "/etc/vigil/hub.yaml": "640 root:vigil",
      "/var/lib/vigil": "750 vigil:vigil",
      "/var/lib/vigil-agent": "700 root:root",
      "/usr/lib/systemd/system/vigil-agent.service": "644 root:root",
      "/usr/lib/systemd/system/vigil-server.service": "644 root:root",
      "/usr/lib/systemd/system/vigil-hub.service": "644 root:root",
      [`/usr/src/vigil-${VERSION}/dkms.conf`]: "644 root:root",
      "/usr/share/vigil/rules": "755 root:root",
      "/usr/share/doc/vigil-agent/copyright": "644 root:root",
      "/usr/share/doc/vigil/copyright": "644 root:root",
    };
    const actual = Object.fromEntries(Object.keys(expected).map((path) => [path, statInside(path)]));
    expect(actual).toEqual(expected);
    expect(chroot.check(["dpkg-query", "-W", "-f", `\${Conffiles}`, "vigil-agent"])).toContain(
      "/etc/vigil/agent.yaml",
    );
    const mainConffiles = chroot.check(["dpkg-query", "-W", "-f", `\${Conffiles}`, "vigil"]);
    expect(mainConffiles).toContain("/etc/vigil/server.yaml");
    expect(mainConffiles).toContain("/etc/vigil/hub.yaml");
    // Nothing in either package is writable by group or others (symlinks aside).
    const listing = chroot.check([
      "sh",
      "-c",
      "dpkg -L vigil vigil-agent | grep '^/' | xargs -d '\\n' stat -c '%a %F %n'",
    ]);
    const writable = listing
      .split("\n")
      .filter(
        (line) => line && !line.includes(" symbolic link ") && (Number.parseInt(line, 8) & 0o022) !== 0,
      );
    expect(listing.split("\n").length).toBeGreaterThan(1000);
    expect(writable).toEqual([]);
  });

  test("deb - the system user vigil: no login, home /var/lib/vigil", () => {
    const [name, , uid, gid, , home, shell] = chroot.check(["getent", "passwd", "vigil"]).trim().split(":");
    expect({ name, home, shell }).toEqual({
      name: "vigil",
      home: "/var/lib/vigil",
      shell: "/usr/sbin/nologin",
    });
    expect(Number(uid)).toBeLessThan(1000);
    expect(chroot.check(["getent", "group", "vigil"]).split(":")[2]).toBe(gid);
  });

  test("deb - the programs run inside: agent executable, its packaged config, the CLI on its own Node", () => {
    expect(chroot.check(["vigil-agent", "--version"])).toBe(
      `vigil-agent ${AGENT_VERSION} (Node.js ${process.version})\n`,
    );
    // The packaged config loads and passes the agent's own permission checks.
    const summary = JSON.parse(chroot.check(["vigil-agent", "--check-config"]));
    expect(summary).toMatchObject({ configFile: "/etc/vigil/agent.yaml", stateDir: "/var/lib/vigil-agent" });
    expect(chroot.check(["vigil", "--help"])).toMatch(/server[\s\S]*hub[\s\S]*agent/);
    // The hub's compiler and all its dependencies are in the package: the default rules compile.
    expect(chroot.check(["vigil", "rules", "validate", "/usr/share/vigil/rules"])).toContain("ok");
    expect(readFileSync(join(chroot.dir, "etc/vigil/hub.yaml"), "utf8")).toMatch(
      /^rulesDir: \/usr\/share\/vigil\/rules$/m,
    );
  });

  test.each(UNITS)("deb - %s.service passes systemd-analyze verify and security", (unit) => {
    const verify = spawnSync(
      "systemd-analyze",
      ["verify", `--root=${chroot.dir}`, `/usr/lib/systemd/system/${unit}.service`],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect({ status: verify.status, output: `${verify.stdout}${verify.stderr}` }).toEqual({
      status: 0,
      output: "",
    });
    const security = spawnSync(
      "systemd-analyze",
      [
        "security",
        "--offline=true",
        `--root=${chroot.dir}`,
        `--threshold=${EXPOSURE_LIMIT[unit]}`,
        "--no-pager",
        `/usr/lib/systemd/system/${unit}.service`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    const overall = /Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout)?.[1];
    expect({ unit, exposure: Number(overall) * 10 <= EXPOSURE_LIMIT[unit], status: security.status }).toEqual(
      {
        unit,
        exposure: true,
        status: 0,
      },
    );
    const text = readFileSync(join(chroot.dir, `usr/lib/systemd/system/${unit}.service`), "utf8");
    expect(text).not.toContain("/opt/vigil");
  });

  test("deb - the driver source builds with DKMS against the host's kernel headers", () => {
    const source = join(chroot.dir, "usr/src");
    const conf = readFileSync(join(source, `vigil-${VERSION}`, "dkms.conf"), "utf8");
    const field = (name: string) =>
      new RegExp(`^${name.replace(/[[\]]/g, "\\$&")}="([^"]*)"$`, "m").exec(conf)?.[1];
    expect({
      name: field("PACKAGE_NAME"),
      version: field("PACKAGE_VERSION"),
      module: field("BUILT_MODULE_NAME[0]"),
      autoinstall: field("AUTOINSTALL"),
    }).toEqual({ name: "vigil", version: VERSION, module: "vigil", autoinstall: "yes" });
    expect(field("MAKE[0]")).toContain(`KDIR=\${kernel_source_dir}`);

    if (spawnSync("sh", ["-c", "command -v dkms"]).status !== 0) {
      throw new Error("dkms is missing: apt-get install -y --no-install-recommends dkms");
    }
    const kernel = readdirSync("/lib/modules").find((release) =>
      existsSync(join("/lib/modules", release, "build", "Makefile")),
    );
    if (!kernel) throw new Error("no kernel headers: apt-get install -y linux-headers-amd64");
    // Trees and the signing key in temp dirs: nothing of the host's DKMS state is touched.
    const dkms = mkdtempSync(join(tmpdir(), "packages-dkms-"));
    try {
      const build = spawnSync(
        "dkms",
        ["build", "-m", "vigil", "-v", VERSION, "-k", kernel, "--sourcetree", source, "--dkmstree", dkms],
        {
          encoding: "utf8",
          timeout: 600_000,
          env: {
            ...process.env,
            mok_signing_key: join(dkms, "mok.key"),
            mok_certificate: join(dkms, "mok.pub"),
          },
        },
      );
      expect({
        status: build.status,
        output: build.status === 0 ? "" : `${build.stdout}${build.stderr}`,
      }).toEqual({ status: 0, output: "" });
      const module = join(dkms, "vigil", VERSION, kernel, "x86_64", "module", "vigil.ko");
      const info = execFileSync("modinfo", ["-F", "version", module], { encoding: "utf8" });
      expect(info.trim()).toBe(VERSION);
      expect(execFileSync("modinfo", ["-F", "vermagic", module], { encoding: "utf8" })).toContain(kernel);
    } finally {
      rmSync(dkms, { recursive: true, force: true });
    }
  });

  test("deb - the packaged vigil runs embedded in the chroot: the reverse-shell replay gives exactly its alerts", async () => {
    copyFileSync(SCENARIO, join(chroot.dir, "tmp", "reverse-shell.jsonl"));
    const apiPort = await freeLoopbackPort();
    const grpcPort = await freeLoopbackPort();
    const api = `http://127.0.0.1:${apiPort}`;
    // /proc for the programs, in a mount namespace of their own: it goes away with them.
    const vigil = spawn(
      "unshare",
      [
        "--pid",
        "--kill-child=SIGTERM",
        `--mount-proc=${join(chroot.dir, "proc")}`,
        "chroot",
        chroot.dir,
        "/usr/bin/env",
        "-i",
        "PATH=/usr/bin:/bin",
        "vigil",
        "start",
        "--data-dir=/tmp/vigil-data",
        "--collectors=replay",
        "--replay=/tmp/reverse-shell.jsonl",
        `--api-port=${apiPort}`,
        `--grpc-port=${grpcPort}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    vigil.stdout.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-65536);
    });
    vigil.stderr.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-65536);
    });
    const exited = new Promise<number | null>((done) => vigil.once("exit", (code) => done(code)));
    // unshare --fork ignores SIGTERM while it waits: signals go to vigil, its child.
    const signalVigil = (signal: NodeJS.Signals) => {
      let children: string[] = [];
      try {
        children = readFileSync(`/proc/${vigil.pid}/task/${vigil.pid}/children`, "utf8").split(" ");
      } catch {
        return; // unshare has exited, and vigil with it
      }
      for (const pid of children.filter((child) => child.trim())) process.kill(Number(pid), signal);
    };
    try {
      const expected = (JSON.parse(readFileSync(EXPECTED, "utf8")) as Array<{ pid: number; rule: string }>)
        .map((alert) => `${alert.pid} ${alert.rule}`)
        .sort();
      const alerts = () => {
        const result = chroot.run(["vigil", "alerts", "--api", api, "--json"], 15_000);
        return result.status === 0
          ? result.stdout
              .split("\n")
              .filter((line) => line.trim())
              .map((line) => JSON.parse(line) as { process?: { pid?: number }; rule?: { id?: string } })
          : [];
      };
      await waitFor(
        () => {
          if (vigil.exitCode !== null) throw new Error(`vigil start exited:\n${output}`);
          return alerts().length >= expected.length;
        },
        45_000,
        `${expected.length} alerts from the packaged vigil`,
        250,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${output}`);
      });
      expect(
        alerts()
          .map((alert) => `${alert.process?.pid} ${alert.rule?.id}`)
          .sort(),
      ).toEqual(expected);
      // The server seeded its ruleset from the packaged rules (/usr/lib/vigil/rules -> /usr/share/vigil/rules).
      expect(output).toMatch(/"dir":"\/usr\/lib\/vigil\/rules","msg":"ruleset seeded"/);
    } finally {
      signalVigil("SIGTERM");
      const force = setTimeout(() => signalVigil("SIGKILL"), 20_000);
      await exited;
      clearTimeout(force);
    }
    expect(output).toContain("SIGTERM, stopping");
  }, 90_000);

  test("deb - reinstalling keeps local config edits, the user and an administrator's enable", () => {
    const uid = chroot.check(["id", "-u", "vigil"]);
    appendFileSync(join(chroot.dir, "etc/vigil/agent.yaml"), "# edited by the operator\n");
    chroot.check(["systemctl", "enable", "vigil-agent.service"]);
    dpkgInstall();
    expect(readFileSync(join(chroot.dir, "etc/vigil/agent.yaml"), "utf8")).toContain(
      "# edited by the operator",
    );
    expect(chroot.check(["id", "-u", "vigil"])).toBe(uid);
    expect(statInside("/etc/vigil/server.yaml")).toBe("640 root:vigil");
    expect(statInside("/var/lib/vigil-agent")).toBe("700 root:root");
    expect(enabledUnits()).toEqual(["vigil-agent.service"]);
  });

  test("deb - remove keeps the configs, purge removes them and the state, keeps the user; install again works", () => {
    chroot.check(["dpkg", "-r", "vigil-agent", "vigil"]);
    expect(existsSync(join(chroot.dir, "usr/sbin/vigil-agent"))).toBe(false);
    expect(existsSync(join(chroot.dir, "usr/lib/vigil"))).toBe(false);
    expect(existsSync(join(chroot.dir, "etc/vigil/agent.yaml"))).toBe(true);
    expect(existsSync(join(chroot.dir, "etc/vigil/server.yaml"))).toBe(true);

    chroot.check(["dpkg", "-P", "vigil-agent", "vigil"]);
    for (const path of ["etc/vigil", "var/lib/vigil", "var/lib/vigil-agent"]) {
      expect({ path, exists: existsSync(join(chroot.dir, path)) }).toEqual({ path, exists: false });
    }
    expect(enabledUnits()).toEqual([]);
    expect(chroot.run(["getent", "passwd", "vigil"]).status).toBe(0);

    dpkgInstall();
    expect(statInside("/etc/vigil/hub.yaml")).toBe("640 root:vigil");
    expect(statInside("/var/lib/vigil")).toBe("750 vigil:vigil");
  });
});
