import { join } from "node:path";
import { readManifestFile } from "../../plugins/manifest.ts";
import { sha256Hex } from "../../util/sha256.ts";

/** Plugin ids are one path component: never `..`, never a slash. */
export const PLUGIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/** The manifest files a plugin directory may carry, in order of preference (DESIGN §6). */
export const MANIFEST_FILES = ["plugin.toml", "Cargo.toml"];

/**
 * sha256 of an installed plugin's manifest as it is on disk now (read at every
 * sudo_run, so an edited manifest loses its approvals at once); null when the
 * plugin is not installed.
 */
export function installedManifestSha(pluginDir: string, plugin: string): string | null {
  if (!PLUGIN_NAME.test(plugin) || plugin.includes("..")) return null;
  for (const file of MANIFEST_FILES) {
    try {
      return sha256Hex(readManifestFile(join(pluginDir, plugin, file)));
    } catch {}
  }
  return null;
}
