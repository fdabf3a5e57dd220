import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { AdiError, ErrorCode } from "../errors.ts";
import { argvProblem, DEFAULT_MAX_RESTARTS, envProblem, MAX_RESTARTS, MAX_STOP_TIMEOUT_MS } from "../daemon/services/spec.ts";
import { sha256Hex } from "../util/sha256.ts";

/**
 * Plugin manifests (DESIGN §6): `plugin.toml` in the plugin's directory, or
 * the seed's Cargo.toml `[package.metadata.plugin]` form. Parsing is strict:
 * an unknown key is an error naming it, so a typo never silently changes
 * what runs.
 */

export interface ServiceManifest {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  workingDir?: string;
  restartOnFailure: boolean;
  maxRestarts: number;
  stopTimeoutMs?: number;
  stopSignal?: string;
}

export interface PluginManifest {
  name: string;
  version: string;
  dir: string;
  manifestPath: string;
  /** Hex sha256 of the manifest file's bytes (approvals are tied to it). */
  sha256: string;
  /** Absolute path of the plugin's executable, inside `dir`. */
  executable: string;
  service?: ServiceManifest;
  privilegedCommands: string[];
}

/** Plugin and service names become file names (logs): keep them boring. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && name !== "." && name !== "..";
}

type Table = Record<string, unknown>;

class ManifestError extends AdiError {
  constructor(file: string, what: string) {
    super(ErrorCode.INVALID_ARGUMENT, `${file}: ${what}`);
  }
}

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Typed accessors that name the file and the key in every complaint. */
function reader(file: string, where: string, table: Table, allowed: readonly string[]) {
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key)) throw new ManifestError(file, `unknown key ${where}${key} (allowed: ${allowed.join(", ")})`);
  }
  const bad = (key: string, want: string) => new ManifestError(file, `${where}${key} must be ${want}, got ${JSON.stringify(table[key])}`);
  return {
    str(key: string): string | undefined {
      const v = table[key];
      if (v === undefined) return undefined;
      if (typeof v !== "string") throw bad(key, "a string");
      return v;
    },
    bool(key: string): boolean | undefined {
      const v = table[key];
      if (v === undefined) return undefined;
      if (typeof v !== "boolean") throw bad(key, "true or false");
      return v;
    },
    uint(key: string, max = 2 ** 31 - 1): number | undefined {
      const v = table[key];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw bad(key, `a whole number from 0 to ${max}`);
      return v;
    },
    strings(key: string): string[] | undefined {
      const v = table[key];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw bad(key, "an array of strings");
      return v as string[];
    },
    stringMap(key: string): Record<string, string> | undefined {
      const v = table[key];
      if (v === undefined) return undefined;
      if (!isTable(v) || !Object.values(v).every((x) => typeof x === "string")) throw bad(key, "a table of strings");
      return { ...(v as Record<string, string>) };
    },
    table(key: string): Table | undefined {
      const v = table[key];
      if (v === undefined) return undefined;
      if (!isTable(v)) throw bad(key, "a table");
      return v;
    },
  };
}

const PLUGIN_KEYS = ["name", "version", "description", "executable", "service", "privileged_commands"] as const;
const CARGO_PLUGIN_KEYS = ["executable", "description", "service", "privileged_commands"] as const;
const SERVICE_KEYS = [
  "name",
  "command",
  "args",
  "env",
  "working_dir",
  "restart_on_failure",
  "max_restarts",
  "stop_timeout_ms",
  "stop_signal",
  "privileged_commands",
] as const;

const SIGNALS = new Set(["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL"]);

/** "TERM" or "SIGTERM" -> "SIGTERM"; null when not a signal a service may be stopped with. */
export function normalizeStopSignal(signal: string): string | null {
  const upper = signal.toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return SIGNALS.has(name) ? name : null;
}

function parseService(file: string, where: string, table: Table, pluginName: string, dir: string): { service: ServiceManifest; privileged: string[] } {
  const r = reader(file, where, table, SERVICE_KEYS);
  const name = r.str("name") ?? pluginName;
  if (!isValidName(name)) throw new ManifestError(file, `${where}name ${JSON.stringify(name)} must match ${NAME_PATTERN.source}`);
  const command = r.str("command");
  if (command === undefined || command === "") throw new ManifestError(file, `${where}command is required (the plugin's subcommand to run)`);
  const workingDir = r.str("working_dir");
  const stopSignal = r.str("stop_signal");
  if (stopSignal !== undefined && normalizeStopSignal(stopSignal) === null) {
    throw new ManifestError(file, `${where}stop_signal ${JSON.stringify(stopSignal)} is not one of ${[...SIGNALS].join(", ")}`);
  }
  const args = r.strings("args") ?? [];
  const env = r.stringMap("env") ?? {};
  const problem = argvProblem([command, ...args]) ?? envProblem(env);
  if (problem) throw new ManifestError(file, `${where.slice(0, -1)}: ${problem}`); // "service: env key …"
  const service: ServiceManifest = {
    name,
    command,
    args,
    env,
    restartOnFailure: r.bool("restart_on_failure") ?? true,
    maxRestarts: r.uint("max_restarts", MAX_RESTARTS) ?? DEFAULT_MAX_RESTARTS,
  };
  if (workingDir !== undefined) service.workingDir = isAbsolute(workingDir) ? workingDir : resolve(dir, workingDir);
  const stopTimeoutMs = r.uint("stop_timeout_ms", MAX_STOP_TIMEOUT_MS);
  if (stopTimeoutMs !== undefined) service.stopTimeoutMs = stopTimeoutMs;
  if (stopSignal !== undefined) service.stopSignal = normalizeStopSignal(stopSignal)!;
  return { service, privileged: r.strings("privileged_commands") ?? [] };
}

/** The executable must stay inside the plugin directory, symlinks included. */
function resolveExecutable(file: string, dir: string, executable: string): string {
  const abs = resolve(dir, executable);
  if (!abs.startsWith(dir + sep)) throw new ManifestError(file, `executable ${JSON.stringify(executable)} is outside the plugin directory`);
  if (existsSync(abs)) {
    const real = realpathSync(abs);
    const realDir = realpathSync(dir);
    if (!real.startsWith(realDir + sep)) throw new ManifestError(file, `executable ${JSON.stringify(executable)} resolves outside the plugin directory (to ${real})`);
  } else if (isSymlink(abs)) {
    // Its target could be created later, anywhere, by whoever may write there.
    throw new ManifestError(file, `executable ${JSON.stringify(executable)} is a symlink to a file that does not exist`);
  }
  return abs;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function parseToml(file: string, text: string): Table {
  try {
    const parsed = Bun.TOML.parse(text);
    if (!isTable(parsed)) throw new Error("not a table");
    return parsed;
  } catch (err) {
    throw new ManifestError(file, `invalid TOML: ${(err as Error).message}`);
  }
}

/** A manifest larger than this is refused (a link to /dev/zero, or to a huge file, must not exhaust memory). */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * A manifest's bytes: a regular file, never through a symlink, and never a
 * FIFO or device (opened non-blocking, then checked). A plugin could ship its
 * manifest as a symlink to a file its service may write, rename itself as
 * another plugin and, hashed through the link, borrow that plugin's root
 * approvals; a FIFO there blocked the daemon's event loop at the next
 * sudo_run. Throws; the caller names the file.
 */
export function readManifestFile(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${path}: not a regular file`);
    if (st.size > MAX_MANIFEST_BYTES) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${path}: larger than ${MAX_MANIFEST_BYTES} bytes`);
    // The size fstat gave and one byte more, never to the end of a file that grows while it is read.
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += got;
    if (n > st.size) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${path}: changed while it was read; try again`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read `dir/plugin.toml`, else `dir/Cargo.toml` with `[package.metadata.plugin]`.
 * Throws AdiError(INVALID_ARGUMENT) naming the file and what is wrong.
 */
export function parsePluginManifest(dir: string): PluginManifest {
  dir = resolve(dir);
  const pluginToml = join(dir, "plugin.toml");
  const cargoToml = join(dir, "Cargo.toml");
  const manifestPath = existsSync(pluginToml) ? pluginToml : existsSync(cargoToml) ? cargoToml : null;
  if (manifestPath === null) {
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${dir}: no plugin.toml (or Cargo.toml with [package.metadata.plugin])`);
  }
  let bytes: Buffer;
  try {
    bytes = readManifestFile(manifestPath);
  } catch (err) {
    if (err instanceof AdiError) throw err;
    const why = (err as NodeJS.ErrnoException).code === "ELOOP" ? "a symlink; a manifest must be a regular file" : (err as Error).message;
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${manifestPath}: ${why}`);
  }
  const doc = parseToml(manifestPath, bytes.toString("utf8"));

  let name: string | undefined;
  let version: string | undefined;
  let body: ReturnType<typeof reader>;
  let where = "";
  if (manifestPath === pluginToml) {
    body = reader(manifestPath, "", doc, PLUGIN_KEYS);
    name = body.str("name");
    version = body.str("version");
  } else {
    const pkg = isTable(doc.package) ? doc.package : undefined;
    const meta = pkg && isTable(pkg.metadata) ? pkg.metadata : undefined;
    const plugin = meta?.plugin;
    if (!isTable(plugin)) throw new ManifestError(manifestPath, "no [package.metadata.plugin] table: not an adi plugin");
    name = typeof pkg?.name === "string" ? pkg.name : undefined;
    version = typeof pkg?.version === "string" ? pkg.version : undefined;
    where = "package.metadata.plugin.";
    body = reader(manifestPath, where, plugin, CARGO_PLUGIN_KEYS);
  }
  if (name === undefined) throw new ManifestError(manifestPath, "name is required");
  if (!isValidName(name)) throw new ManifestError(manifestPath, `name ${JSON.stringify(name)} must match ${NAME_PATTERN.source}`);
  if (version === undefined || version === "") throw new ManifestError(manifestPath, "version is required");
  // Printed at install and by `plugin list`: a control sequence there could rewrite what the terminal shows.
  if (/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(version)) throw new ManifestError(manifestPath, `version ${JSON.stringify(version)} contains control characters`);

  const executable = resolveExecutable(manifestPath, dir, body.str("executable") ?? join("bin", name));
  const privilegedCommands = [...(body.strings("privileged_commands") ?? [])];
  const manifest: PluginManifest = { name, version, dir, manifestPath, sha256: sha256Hex(bytes), executable, privilegedCommands };
  const serviceTable = body.table("service");
  if (serviceTable) {
    const { service, privileged } = parseService(manifestPath, `${where}service.`, serviceTable, name, dir);
    manifest.service = service;
    privilegedCommands.push(...privileged);
  }
  return manifest;
}

/**
 * Every plugin under `pluginDir` (one directory each). A broken manifest is
 * reported in `errors` and skipped; it never hides the others.
 */
export function loadPlugins(pluginDir: string): { plugins: PluginManifest[]; errors: { dir: string; message: string }[] } {
  const plugins: PluginManifest[] = [];
  const errors: { dir: string; message: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync(pluginDir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { plugins, errors };
    return { plugins, errors: [{ dir: pluginDir, message: `cannot read ${pluginDir}: ${(err as Error).message}` }] };
  }
  const pluginNames = new Set<string>();
  const serviceNames = new Map<string, string>();
  for (const entry of entries) {
    if (entry.startsWith(".")) continue;
    const dir = join(pluginDir, entry);
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${dir}: is a symlink; a plugin must be a directory`);
      if (!st.isDirectory()) continue;
      const manifest = parsePluginManifest(dir);
      // Install puts a plugin in the directory of its name: a manifest that names another plugin
      // (edited after install) must not take that plugin's identity, services or approvals.
      if (manifest.name !== entry) {
        throw new ManifestError(manifest.manifestPath, `plugin name ${manifest.name} does not match its directory ${entry}; reinstall it`);
      }
      if (pluginNames.has(manifest.name)) {
        throw new ManifestError(manifest.manifestPath, `plugin name ${manifest.name} is already used by another plugin`);
      }
      const service = manifest.service?.name;
      if (service !== undefined && serviceNames.has(service)) {
        throw new ManifestError(manifest.manifestPath, `service name ${service} is already declared by plugin ${serviceNames.get(service)}`);
      }
      pluginNames.add(manifest.name);
      if (service !== undefined) serviceNames.set(service, manifest.name);
      plugins.push(manifest);
    } catch (err) {
      errors.push({ dir, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return { plugins, errors };
}
