import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { BUN, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, serviceInfo, serviceSessions, sessionProcesses, waitForState } from "./helpers.ts";

afterEach(cleanupDaemons);

const PROBE = join(import.meta.dir, "fixtures", "plugin-client.ts");

function plugin(home: string, dir: string, manifest: string): void {
  const root = join(home, "plugins", dir);
  mkdirSync(join(root, "bin"), { recursive: true });
  writeFileSync(join(root, "plugin.toml"), manifest);
  const script = `#!/bin/sh\nif [ "$1" = probe ]; then exec ${BUN} ${PROBE}; fi\necho "serving $1 as $ADI_SERVICE_NAME"\nexec sleep 1000\n`;
  writeFileSync(join(root, "bin", "tool"), script, { mode: 0o755 });
}

describe("plugin services", () => {
  test("manifests, auto_start, reserved names, bad manifests, plugin access, reload", async () => {
    const d = newDaemon({ daemonToml: 'auto_start = ["tools-svc", "hive"]\ncolour = "blue"\n' });
    // Plugin services may run as ADI_USER: let it traverse the temporary directory.
    chmodSync(dirname(d.home), 0o711);
    plugin(d.home, "tools", 'name = "tools"\nversion = "1.0.0"\nexecutable = "bin/tool"\n[service]\nname = "tools-svc"\ncommand = "serve"\n');
    plugin(d.home, "hive", 'name = "hive"\nversion = "2.0.0"\nexecutable = "bin/tool"\n[service]\nname = "hive-server"\ncommand = "serve"\n');
    plugin(d.home, "prober", 'name = "prober"\nversion = "0.1.0"\nexecutable = "bin/tool"\n[service]\ncommand = "probe"\nrestart_on_failure = false\n');
    plugin(d.home, "broken", 'name = "broken"\nversion = "0.1.0"\nexecutable = "bin/tool"\n[service]\ncommand = "serve"\nrestart_policy = "always"\n');
    plugin(d.home, "squatter", 'name = "squatter"\nversion = "0.1.0"\nexecutable = "bin/tool"\n[service]\nname = "indexer"\ncommand = "serve"\n');
    await d.start();

    const status = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout);
    const warnings: string = status.warnings.join("\n");
    expect(warnings).toContain(`${join(d.home, "plugins", "broken", "plugin.toml")}: unknown key service.restart_policy`);
    expect(warnings).toContain("daemon.toml: unknown key colour");
    // A reserved name belongs to the plugin of that name: another plugin may not declare it.
    expect(warnings).toContain("plugin squatter declares service indexer, a name reserved for the indexer plugin; skipped");
    expect(await serviceInfo(d, "indexer")).toBeUndefined();

    // auto_start: by service name, and by the reserved plugin name.
    const tools = await waitForState(d, "tools-svc", ServiceState.RUNNING);
    expect(tools.plugin).toBe("tools");
    const hive = await waitForState(d, "hive-server", ServiceState.RUNNING);
    expect(hive.plugin).toBe("hive");
    expect((await serviceInfo(d, "prober"))!.state).toBe(ServiceState.STOPPED);
    expect(await serviceInfo(d, "broken")).toBeUndefined();
    await waitFor(async () => (await d.cli(["daemon", "logs", "tools-svc"])).stdout.includes("serving serve as tools-svc"), 3_000, "plugin output");

    // A reserved name resolves to its plugin's service.
    expect((await d.cli(["daemon", "stop", "hive"])).code).toBe(0);
    expect((await serviceInfo(d, "hive-server"))!.state).toBe(ServiceState.STOPPED);
    expect(sessionProcesses(hive.pid)).toEqual([]);
    const adhoc = await d.cli(["daemon", "start", "tools-svc", "--", "true"]);
    expect(adhoc.code).toBe(1);
    expect(adhoc.stderr).toContain("declared by plugin tools");

    // A plugin's service acts as its plugin: its own things only.
    expect((await d.cli(["daemon", "start", "prober"])).code).toBe(0);
    let out = "";
    await waitFor(async () => (out = (await d.cli(["daemon", "logs", "prober"])).stdout).includes("DONE"), 10_000, "the probe");
    expect(out).toContain("role=plugin plugin=prober");
    expect(out).toContain("stop-other: permission_denied");
    expect(out).toContain("define: permission_denied");
    expect(out).toContain("reload: permission_denied");
    expect(out).toContain("list: ok");
    expect(out).toContain("logs-own: ok");
    expect(out).toContain("logs-other: permission_denied");
    expect((await serviceInfo(d, "tools-svc"))!.state).toBe(ServiceState.RUNNING);

    // A plugin that declares an ad-hoc service's name does not take it over: the service stays the
    // owner's, which is why it may spawn without waiting for isolation (privilege.spawnReady).
    expect((await d.cli(["daemon", "start", "keeper", "--", "sleep", "1000"])).code).toBe(0);
    plugin(d.home, "taker", 'name = "taker"\nversion = "0.1.0"\nexecutable = "bin/tool"\n[service]\nname = "keeper"\ncommand = "serve"\n');
    const reloader = d.client();
    await reloader.reloadPlugins();
    reloader.close();
    expect((await serviceInfo(d, "keeper"))!.plugin).toBe("");
    expect((await d.cli(["daemon", "restart", "keeper"])).code).toBe(0);
    expect((await serviceInfo(d, "keeper"))!.plugin).toBe("");
    const kept = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout).warnings.join("\n");
    expect(kept).toContain("plugin taker declares service keeper, but an ad-hoc service has that name; the ad-hoc one is kept");
    // Once the ad-hoc one is removed, the plugin's service of that name is there, and the warning gone.
    expect((await d.cli(["daemon", "remove", "keeper"])).code).toBe(0);
    expect((await serviceInfo(d, "keeper"))?.plugin).toBe("taker");
    expect(JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout).warnings.join("\n")).not.toContain("plugin taker declares service keeper");

    // What a scan warned about goes away once a reload no longer finds it.
    rmSync(join(d.home, "plugins", "taker"), { recursive: true });
    rmSync(join(d.home, "plugins", "squatter"), { recursive: true });
    rmSync(join(d.home, "plugins", "broken"), { recursive: true });
    const again = d.client();
    await again.reloadPlugins();
    again.close();
    const after = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout).warnings.join("\n");
    for (const gone of ["plugin taker", "plugin squatter", "service.restart_policy"]) expect(after).not.toContain(gone);
    expect(after).toContain("daemon.toml: unknown key colour"); // not a plugin's: it stays

    // Removing a plugin and reloading stops and removes its service; its followers get the end of the stream.
    const client = d.client();
    const follow = client.logs("tools-svc", { lines: 1, follow: true });
    await follow.next();
    rmSync(join(d.home, "plugins", "tools"), { recursive: true });
    await client.reloadPlugins();
    const rest: string[] = [];
    for await (const line of follow) rest.push(line.text); // ends with the stream
    expect(rest).toEqual(["killed by SIGTERM"]);
    client.close();
    expect(await serviceInfo(d, "tools-svc")).toBeUndefined();
    expect(sessionProcesses(tools.pid)).toEqual([]);
    expect(serviceSessions(d, "tools-svc").size).toBe(0);
  });

  test("a start during a removal's stop timeout is refused, and nothing of the service outlives the removal", async () => {
    const d = newDaemon();
    chmodSync(dirname(d.home), 0o711);
    plugin(d.home, "slow", 'name = "slow"\nversion = "0.1.0"\nexecutable = "bin/tool"\n[service]\ncommand = "serve"\nstop_timeout_ms = 1500\n');
    // Ignores TERM: its stop takes the whole 1.5 s timeout, then KILL.
    writeFileSync(join(d.home, "plugins", "slow", "bin", "tool"), "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.2; done\n", { mode: 0o755 });
    await d.start();
    expect((await d.cli(["daemon", "start", "slow"])).code).toBe(0);
    const first = await waitForState(d, "slow", ServiceState.RUNNING);
    writeFileSync(join(d.home, "plugins", "slow", "plugin.toml"), 'name = "slow"\nversion = "0.2.0"\nexecutable = "bin/tool"\n');
    const client = d.client();
    try {
      const reload = client.reloadPlugins();
      await Bun.sleep(200); // the removal is waiting for its stop timeout
      // Queued behind the halt, this start used to spawn a process nothing tracked: not listed, not in
      // state.json, not stopped with the daemon.
      const late = await d.cli(["daemon", "start", "slow"]);
      expect(late.code).toBe(1);
      expect(late.stderr).toContain("no service named slow");
      await reload;
    } finally {
      client.close();
    }
    expect(await serviceInfo(d, "slow")).toBeUndefined();
    expect(sessionProcesses(first.pid)).toEqual([]);
    expect(serviceSessions(d, "slow").size).toBe(0);
  });
});
