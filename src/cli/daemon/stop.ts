import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { cliClient } from "../connect.ts";
import { Exit, ExitWith } from "../exit.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { processAlive } from "../../util/process-alive.ts";
import { err, out } from "../output.ts";
import { withSpinner } from "../spinner.ts";
import { manyServices, serviceNames } from "./many.ts";

export default defineCommand({
  meta: meta("stop", "Stop the daemon (and its services), or services", ["adi daemon stop", "adi daemon stop web", "adi daemon stop web api", "adi daemon stop web --force"]),
  args: {
    name: { type: "positional", required: false, description: "Service(s) to stop (omit to stop the daemon)" },
    force: { type: "boolean", description: "Kill the service's process group at once, skipping the stop timeout" },
  },
  async run({ args }) {
    // Stopping never starts a daemon: talk to the running one or say it is not running.
    const notRunning = (error: unknown, what: string): never => {
      if (!(error instanceof AdiError) || error.code !== ErrorCode.UNAVAILABLE) throw error;
      err(`adi daemon is not running: ${what}`);
      throw new ExitWith(Exit.notRunning);
    };
    if (args.name) {
      const client = cliClient(SERVICE_OP_TIMEOUT_MS);
      try {
        if (!(await client.isRunning())) notRunning(new AdiError(ErrorCode.UNAVAILABLE, ""), `no service runs, ${args.name} neither`);
        const names = serviceNames(args._);
        if (names.length > 1) {
          const force = Boolean(args.force);
          return await manyServices(names, { doing: "stopping", done: "stopped" }, (c, name) => c.stopService(name, { force }), client);
        }
        const name = args.name;
        await withSpinner(args.force ? `killing ${name}` : `stopping ${name} (KILL after its stop timeout)`, () =>
          client.stopService(name, { force: Boolean(args.force) }),
        );
        out(`stopped ${args.name}`);
      } finally {
        client.close();
      }
      return;
    }
    const client = cliClient();
    const { pid, servicesRunning } = await client.status().catch((e: unknown) => notRunning(e, "nothing to stop"));
    const what = servicesRunning > 0 ? `stopping the adi daemon and ${servicesRunning} running service${servicesRunning === 1 ? "" : "s"}` : "stopping the adi daemon";
    await withSpinner(what, async () => {
      await client.shutdown(true);
      // The connection closes just before the process exits: wait for the exit
      // so that `stop && start` never finds the old daemon still holding its lock.
      const deadline = performance.now() + 5_000;
      while (processAlive(pid) && performance.now() < deadline) await Bun.sleep(5);
    });
    out(`adi daemon stopped (pid ${pid})`);
  },
});
