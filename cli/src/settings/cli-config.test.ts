import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliConfigPath, readCliConfig, resolveApiTarget, resolveNats } from "./cli-config";

// Where the CLI takes its API URL, token and NATS from: flags, then the
// environment, then ~/.config/vigil/cli.yaml, which must be private.

describe("cli config - flags, environment, config file", () => {
  let dir: string;
  let file: string;

  function writeConfig(text: string, mode = 0o600): void {
    writeFileSync(file, text);
    chmodSync(file, mode);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cli-config-"));
    mkdirSync(join(dir, "vigil"));
    file = join(dir, "vigil", "cli.yaml");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("cli config - the file is under XDG_CONFIG_HOME/vigil, or where VIGIL_CLI_CONFIG says", () => {
    expect(cliConfigPath({ XDG_CONFIG_HOME: dir })).toBe(file);
    expect(cliConfigPath({ VIGIL_CLI_CONFIG: "/etc/vigil/cli.yaml", XDG_CONFIG_HOME: dir })).toBe(
      "/etc/vigil/cli.yaml",
    );
  });

  test("cli config - --token beats VIGIL_API_TOKEN beats the file, and each says where it came from", () => {
    writeConfig("api: https://vigil.example:8443\ntoken: from-file\n");
    const env = { XDG_CONFIG_HOME: dir };
    expect(resolveApiTarget({}, env)).toEqual({
      api: "https://vigil.example:8443",
      apiSource: file,
      token: "from-file",
      tokenSource: file,
    });
    expect(
      resolveApiTarget({}, { ...env, VIGIL_API_TOKEN: "from-env", VIGIL_API_URL: "http://10.0.0.1:8080" }),
    ).toEqual({
      api: "http://10.0.0.1:8080",
      apiSource: "VIGIL_API_URL",
      token: "from-env",
      tokenSource: "VIGIL_API_TOKEN",
    });
    expect(
      resolveApiTarget({ token: "from-flag", api: "http://h:1" }, { ...env, VIGIL_API_TOKEN: "x" }),
    ).toMatchObject({
      token: "from-flag",
      tokenSource: "--token",
      api: "http://h:1",
    });
  });

  test("cli config - no file: the default URL and no token", () => {
    expect(resolveApiTarget({}, { XDG_CONFIG_HOME: dir })).toEqual({
      api: "http://127.0.0.1:8080",
      apiSource: "the default",
      token: undefined,
      tokenSource: undefined,
    });
  });

  test("cli config - a file others can read is refused with the chmod that fixes it", () => {
    writeConfig("token: secret\n", 0o644);
    expect(() => readCliConfig(file)).toThrow(
      `${file}: holds an API token but is readable by others (mode 644); run: chmod 600 ${file}`,
    );
    expect(() => resolveApiTarget({}, { XDG_CONFIG_HOME: dir })).toThrow("chmod 600");
    // Flags and environment that settle everything do not need the file.
    expect(
      resolveApiTarget({ api: "http://h:1" }, { XDG_CONFIG_HOME: dir, VIGIL_API_TOKEN: "t" }).token,
    ).toBe("t");
  });

  test("cli config - bad content names the key", () => {
    writeConfig("tokn: x\n");
    expect(() => readCliConfig(file)).toThrow(`${file}: tokn: unknown key (known: api, token, nats)`);
    writeConfig("api: not a url\n");
    expect(() => readCliConfig(file)).toThrow(`${file}: api: "not a url" is not a URL`);
    writeConfig("nats:\n  servers: []\n");
    expect(() => readCliConfig(file)).toThrow(`${file}: nats.servers: a URL or a list of URLs`);
    writeConfig("token: [1, 2]\n");
    expect(() => readCliConfig(file)).toThrow(`${file}: token: must be a non-empty string`);
    writeConfig("api: [\n");
    expect(() => readCliConfig(file)).toThrow(`${file}: not YAML`);
  });

  test("cli config - --nats takes its URL from the flag and its credentials from the file", () => {
    writeConfig("nats:\n  servers: nats://bus:4222\n  user: cli\n  password: pw\n");
    const env = { XDG_CONFIG_HOME: dir };
    expect(resolveNats(undefined, env)).toBeUndefined();
    expect(resolveNats(true, env)).toEqual({ servers: ["nats://bus:4222"], user: "cli", password: "pw" });
    expect(resolveNats("nats://other:4222", env)).toMatchObject({
      servers: ["nats://other:4222"],
      user: "cli",
    });
    rmSync(file);
    expect(() => resolveNats(true, env)).toThrow("--nats: give a URL");
  });
});
