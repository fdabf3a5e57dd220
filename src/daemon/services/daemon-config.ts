import { readFileSync } from "node:fs";
import { DEFAULT_ROTATION, type RotationOptions } from "./log-file.ts";

/**
 * The services' part of $ADI_HOME/daemon.toml:
 *   auto_start = ["web", "hive"]
 *   [service_logs]
 *   max_bytes = 10485760   # rotate at this size
 *   files = 3              # files kept, the current one included
 * Unknown keys are reported as warnings (the daemon still starts).
 */
export interface DaemonConfig {
  autoStart: string[];
  rotation: RotationOptions;
  warnings: string[];
}

const TOP_KEYS = ["auto_start", "service_logs"];
const LOG_KEYS = ["max_bytes", "files"];

export function loadDaemonConfig(path: string): DaemonConfig {
  const config: DaemonConfig = { autoStart: [], rotation: { ...DEFAULT_ROTATION }, warnings: [] };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") config.warnings.push(`cannot read ${path}: ${(err as Error).message}`);
    return config;
  }
  let doc: Record<string, unknown>;
  try {
    doc = Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    config.warnings.push(`${path}: invalid TOML (${(err as Error).message}); using defaults`);
    return config;
  }
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key)) config.warnings.push(`${path}: unknown key ${key} (ignored)`);
  }
  const auto = doc.auto_start;
  if (auto !== undefined) {
    if (Array.isArray(auto) && auto.every((x) => typeof x === "string")) config.autoStart = auto as string[];
    else config.warnings.push(`${path}: auto_start must be an array of service names (ignored)`);
  }
  const logs = doc.service_logs;
  if (logs !== undefined) {
    if (typeof logs !== "object" || logs === null || Array.isArray(logs)) {
      config.warnings.push(`${path}: service_logs must be a table (ignored)`);
    } else {
      const table = logs as Record<string, unknown>;
      for (const key of Object.keys(table)) {
        if (!LOG_KEYS.includes(key)) config.warnings.push(`${path}: unknown key service_logs.${key} (ignored)`);
      }
      const maxBytes = table.max_bytes;
      if (maxBytes !== undefined) {
        if (typeof maxBytes === "number" && Number.isInteger(maxBytes) && maxBytes >= 4096) config.rotation.maxBytes = maxBytes;
        else config.warnings.push(`${path}: service_logs.max_bytes must be a whole number of at least 4096 (ignored)`);
      }
      const files = table.files;
      if (files !== undefined) {
        if (typeof files === "number" && Number.isInteger(files) && files >= 1 && files <= 100) config.rotation.files = files;
        else config.warnings.push(`${path}: service_logs.files must be a whole number from 1 to 100 (ignored)`);
      }
    }
  }
  return config;
}
