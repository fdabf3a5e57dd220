import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { loadPlugins, parsePluginManifest, readManifestFile } from "../../src/plugins/manifest.ts";
import { installedManifestSha } from "../../src/daemon/privilege/manifest-sha.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pluginDir(files: Record<string, string>, root?: string, name = "p"): string {
  const base = root ?? mkdtempSync(join(tmpdir(), "adi-m-"));
  if (!root) dirs.push(base);
  const dir = join(base, name);
  mkdirSync(join(dir, "bin"), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

function parseError(dir: string): AdiError {
  try {
    parsePluginManifest(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(AdiError);
    expect((err as AdiError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    return err as AdiError;
  }
  throw new Error("expected the manifest to be rejected");
}

const NETWORK_TOOLS = `
name = "network-tools"
version = "0.1.0"
executable = "bin/network-tools"
[service]
name = "network-manager"
command = "serve"
args = ["--port", "8080"]
env = { RUST_LOG = "info" }
restart_on_failure = true
max_restarts = 3
privileged_commands = ["iptables -t nat -L"]
`;

describe("a plugin cannot take another's identity", () => {
  test("a manifest that is a symlink, a FIFO or too large is refused, and hashes as no manifest", () => {
    const root = mkdtempSync(join(tmpdir(), "adi-m-"));
    dirs.push(root);
    const real = join(root, "elsewhere.toml");
    writeFileSync(real, 'name = "linked"\nversion = "1"\n');
    mkdirSync(join(root, "linked"));
    symlinkSync(real, join(root, "linked", "plugin.toml"));
    expect(parseError(join(root, "linked")).message).toContain("a symlink; a manifest must be a regular file");
    expect(installedManifestSha(root, "linked")).toBeNull(); // so no approval of it ever matches
    mkdirSync(join(root, "piped"));
    Bun.spawnSync(["mkfifo", join(root, "piped", "plugin.toml")]);
    expect(parseError(join(root, "piped")).message).toContain("not a regular file"); // and did not block
    pluginDir({ "plugin.toml": `name = "big"\nversion = "1"\n#${"x".repeat(1024 * 1024)}\n` }, root, "big");
    expect(parseError(join(root, "big")).message).toContain("larger than");
  });

  test.skipIf(process.platform !== "linux")("a manifest is read only to the size it had when opened, not to the end of a file that grows meanwhile", () => {
    // A /proc file is a regular file of size 0 with content: the read used to go on to its end (a
    // manifest growing while it is read could pass the 1 MiB cap the same way).
    expect(() => readManifestFile("/proc/self/status")).toThrow(/changed while it was read/);
    const dir = pluginDir({ "plugin.toml": 'name = "p"\nversion = "1"\n' });
    expect(readManifestFile(join(dir, "plugin.toml")).toString()).toBe('name = "p"\nversion = "1"\n');
  });

  test("a manifest naming another plugin than its directory is skipped, and the real one keeps its name", () => {
    const root = mkdtempSync(join(tmpdir(), "adi-m-"));
    dirs.push(root);
    // "aaa" sorts first: renamed "victim", it used to push the real victim out as a duplicate.
    pluginDir({ "plugin.toml": 'name = "victim"\nversion = "1"\n' }, root, "aaa");
    pluginDir({ "plugin.toml": 'name = "victim"\nversion = "1"\n' }, root, "victim");
    const { plugins, errors } = loadPlugins(root);
    expect(plugins.map((p) => p.dir)).toEqual([join(root, "victim")]);
    expect(errors.map((e) => e.message).join("\n")).toContain("plugin name victim does not match its directory aaa");
  });
});

describe("plugin manifests", () => {
  test("plugin.toml: the DESIGN example parses completely", () => {
    const dir = pluginDir({ "plugin.toml": NETWORK_TOOLS });
    const m = parsePluginManifest(dir);
    expect(m).toMatchObject({
      name: "network-tools",
      version: "0.1.0",
      dir,
      manifestPath: join(dir, "plugin.toml"),
      executable: join(dir, "bin", "network-tools"),
      privilegedCommands: ["iptables -t nat -L"],
      service: {
        name: "network-manager",
        command: "serve",
        args: ["--port", "8080"],
        env: { RUST_LOG: "info" },
        restartOnFailure: true,
        maxRestarts: 3,
      },
    });
    expect(m.sha256).toBe(new Bun.CryptoHasher("sha256").update(NETWORK_TOOLS).digest("hex"));
  });

  test("plugin.toml: defaults (service name = plugin name, restart on, 5 restarts, executable bin/NAME)", () => {
    const m = parsePluginManifest(pluginDir({ "plugin.toml": 'name = "hive"\nversion = "1.0.0"\n[service]\ncommand = "run"\n' }));
    expect(m.service).toEqual({ name: "hive", command: "run", args: [], env: {}, restartOnFailure: true, maxRestarts: 5 });
    expect(m.executable.endsWith("/p/bin/hive")).toBe(true);
    expect(m.privilegedCommands).toEqual([]);
  });

  test("Cargo.toml [package.metadata.plugin] form", () => {
    const cargo = `
[package]
name = "indexer"
version = "0.3.1"
edition = "2021"

[dependencies]
serde = "1"

[package.metadata.plugin]
executable = "target/release/indexer"

[package.metadata.plugin.service]
command = "daemon"
working_dir = "data"
max_restarts = 7
restart_on_failure = false
stop_signal = "INT"
stop_timeout_ms = 2500
privileged_commands = ["ip link show"]
`;
    const dir = pluginDir({ "Cargo.toml": cargo });
    const m = parsePluginManifest(dir);
    expect(m).toMatchObject({
      name: "indexer",
      version: "0.3.1",
      executable: join(dir, "target/release/indexer"),
      privilegedCommands: ["ip link show"],
      service: { name: "indexer", command: "daemon", workingDir: join(dir, "data"), maxRestarts: 7, restartOnFailure: false, stopSignal: "SIGINT", stopTimeoutMs: 2500 },
    });
  });

  test("a Cargo.toml without the plugin table is not a plugin", () => {
    const err = parseError(pluginDir({ "Cargo.toml": '[package]\nname = "x"\nversion = "1.0.0"\n' }));
    expect(err.message).toContain("Cargo.toml: no [package.metadata.plugin] table");
  });

  test("unknown keys are errors naming the key and the file", () => {
    const top = parseError(pluginDir({ "plugin.toml": 'name = "a"\nversion = "1"\nexecutible = "bin/a"\n' }));
    expect(top.message).toContain("plugin.toml: unknown key executible");
    const svc = parseError(pluginDir({ "plugin.toml": 'name = "a"\nversion = "1"\n[service]\ncommand = "x"\nrestart = true\n' }));
    expect(svc.message).toContain("unknown key service.restart");
    const cargo = parseError(pluginDir({ "Cargo.toml": '[package]\nname = "a"\nversion = "1"\n[package.metadata.plugin.service]\ncommand = "x"\nauto = 1\n' }));
    expect(cargo.message).toContain("unknown key package.metadata.plugin.service.auto");
  });

  test("wrong types and missing fields are named", () => {
    const cases: [string, string][] = [
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nmax_restarts = "3"\n', 'service.max_restarts must be a whole number from 0 to 1000, got "3"'],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nmax_restarts = -1\n', "service.max_restarts must be a whole number"],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nargs = "--port 80"\n', "service.args must be an array of strings"],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nenv = { PORT = 80 }\n', "service.env must be a table of strings"],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nenv = { "A=B" = "c" }\n', 'service: env key "A=B" must be non-empty, without "=" or NUL'],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nargs = ["a\\u0000b"]\n', "service: argument 1 must not contain NUL"],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nrestart_on_failure = "yes"\n', "service.restart_on_failure must be true or false"],
      ['name = "a"\nversion = "1"\n[service]\nargs = []\n', "service.command is required"],
      ['name = "a"\nversion = "1"\n[service]\ncommand = "x"\nstop_signal = "SIGSEGV"\n', "service.stop_signal"],
      ['version = "1"\n', "name is required"],
      ['name = "a"\n', "version is required"],
      // A control sequence in the version would be printed to the terminal at install and by `plugin list`.
      ['name = "a"\nversion = "1.0\\u001b[2K\\rall good"\n', 'version "1.0\\u001b[2K\\rall good" contains control characters'],
      ['name = "Bad Name"\nversion = "1"\n', 'name "Bad Name" must match'],
      ['name = "a"\nversion = "1"\n[service]\nname = "../x"\ncommand = "x"\n', 'service.name "../x" must match'],
      ['name = "a"\nversion = "1"\nservice = 3\n', "service must be a table"],
      ['name = "a"\nversion = \n', "invalid TOML"],
    ];
    for (const [text, message] of cases) {
      const err = parseError(pluginDir({ "plugin.toml": text }));
      expect(err.message).toContain("plugin.toml: ");
      expect(err.message).toContain(message);
    }
  });

  test("an executable outside the plugin directory is refused, symlinks included", () => {
    const up = parseError(pluginDir({ "plugin.toml": 'name = "a"\nversion = "1"\nexecutable = "../../bin/sh"\n' }));
    expect(up.message).toContain("is outside the plugin directory");
    const abs = parseError(pluginDir({ "plugin.toml": 'name = "a"\nversion = "1"\nexecutable = "/bin/sh"\n' }));
    expect(abs.message).toContain("is outside the plugin directory");
    const dir = pluginDir({ "plugin.toml": 'name = "a"\nversion = "1"\nexecutable = "bin/a"\n' });
    symlinkSync("/bin/sh", join(dir, "bin", "a"));
    expect(parseError(dir).message).toContain("resolves outside the plugin directory");
  });

  test("loadPlugins: a broken manifest is reported and skipped, the others load; duplicates are refused", () => {
    const root = mkdtempSync(join(tmpdir(), "adi-m-"));
    dirs.push(root);
    pluginDir({ "plugin.toml": 'name = "good"\nversion = "1"\n[service]\ncommand = "serve"\n' }, root, "good");
    pluginDir({ "plugin.toml": 'name = "bad"\nversion = "1"\ncolour = "red"\n' }, root, "bad");
    pluginDir({ "plugin.toml": 'name = "other"\nversion = "1"\n[service]\nname = "good"\ncommand = "serve"\n' }, root, "other");
    pluginDir({ "README.md": "not a plugin" }, root, "empty");
    writeFileSync(join(root, "stray-file"), "");
    symlinkSync(join(root, "good"), join(root, "linked"));
    const { plugins, errors } = loadPlugins(root);
    expect(plugins.map((p) => p.name)).toEqual(["good"]);
    const messages = errors.map((e) => e.message).join("\n");
    expect(messages).toContain(`${join(root, "bad", "plugin.toml")}: unknown key colour`);
    expect(messages).toContain("service name good is already declared by plugin good");
    expect(messages).toContain(`${join(root, "empty")}: no plugin.toml`);
    expect(messages).toContain("is a symlink");
    expect(errors).toHaveLength(4);
    expect(loadPlugins(join(root, "missing"))).toEqual({ plugins: [], errors: [] });
    chmodSync(root, 0o700);
  });
});
