import { resolve } from "node:path";
import { AdiError, ErrorCode } from "../../errors.ts";
import { RESERVED_NAMES } from "../../daemon/services/service-config.ts";
import { loadPlugins, type PluginManifest } from "../../plugins/manifest.ts";

/**
 * Refuse, before anything is copied, a plugin the daemon's scan would not
 * run as asked. The scan settles a clash by directory order and warns only in
 * `status` (src/plugins/manifest.ts, manager.ts): installed anyway, a plugin
 * declaring another plugin's service name could push that plugin out, and
 * the service's process would then be credited to the newcomer. A reinstall
 * (the same directory) is no clash with itself.
 */
export function checkInstallConflicts(pluginDir: string, source: PluginManifest): void {
  const service = source.service?.name;
  if (service !== undefined && RESERVED_NAMES.has(service) && service !== source.name) {
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${source.manifestPath}: service name ${service} is reserved for the ${service} plugin; choose another`);
  }
  // Absolute, as loadPlugins gives each plugin's dir: a relative ADI_HOME must not make a reinstall clash with itself.
  const own = resolve(pluginDir, source.name);
  for (const other of loadPlugins(pluginDir).plugins) {
    if (other.dir === own) continue;
    if (other.name === source.name) {
      throw new AdiError(ErrorCode.ALREADY_EXISTS, `plugin name ${source.name} is already used by the plugin in ${other.dir}; remove it first`);
    }
    if (service !== undefined && other.service?.name === service) {
      throw new AdiError(ErrorCode.ALREADY_EXISTS, `service name ${service} is already declared by plugin ${other.name}; rename the service, or remove that plugin first (\`adi plugin remove ${other.name}\`)`);
    }
  }
}
