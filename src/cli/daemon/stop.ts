import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { usageError } from "../exit.ts";
import { out } from "../output.ts";
import { passthrough } from "../passthrough.ts";
import { withSpinner } from "../spinner.ts";
import { notRunning, stopServices } from "./service-ops.ts";

export default defineCommand({
  meta: meta("stop", "Stop the daemon (and its services), or services", ["adi daemon stop", "adi daemon stop --force", "adi daemon stop web", "adi daemon stop web api", "adi daemon stop web --force"]),
  args: {
    name: { type: "positional", required: false, description: "Service(s) to stop (omit to stop the daemon)" },
    force: { type: "boolean", description: "Kill at once, skipping the stop timeout (the named services; with no name, every service as the daemon stops)" },
  },
  async run({ args }) {
    if (passthrough().length > 0) throw usageError("`--` goes with `adi daemon start NAME -- CMD`, not with stop");
    // Any word given names services: `adi daemon stop "$SVC"` with SVC empty must not stop the daemon.
    if (args._.length > 0) return stopServices(args._, Boolean(args.force));
    // Loaded for stopping the daemon only: the client, and node:fs behind processAlive, cost a service stop ≈ 4 ms.
    const [{ cliClient }, { processAlive }] = await Promise.all([import("../connect.ts"), import("../../util/process-alive.ts")]);
    const client = cliClient();
    const { pid, servicesRunning } = await client.status().catch((e: unknown) => notRunning(e, "nothing to stop"));
    const force = Boolean(args.force);
    const services = `${force ? "killing" : "stopping"} ${servicesRunning} running service${servicesRunning === 1 ? "" : "s"}`;
    const what = servicesRunning > 0 ? `stopping the adi daemon and ${services}` : "stopping the adi daemon";
    await withSpinner(what, async () => {
      await client.shutdown(!force);
      // The connection closes just before the process exits: wait for the exit
      // so that `stop && start` never finds the old daemon still holding its lock.
      const deadline = performance.now() + 5_000;
      while (processAlive(pid) && performance.now() < deadline) await Bun.sleep(5);
    });
    out(`adi daemon stopped (pid ${pid})`);
  },
});
