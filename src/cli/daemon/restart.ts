import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { runningClient } from "../connect.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { out } from "../output.ts";
import { withSpinner } from "../spinner.ts";
import { manyServices, serviceNames } from "./many.ts";

export default defineCommand({
  meta: meta("restart", "Stop services, then start them again", ["adi daemon restart web", "adi daemon restart web api"]),
  args: { name: { type: "positional", required: true, description: "Service(s) to restart" } },
  async run({ args }) {
    const names = serviceNames(args._);
    if (names.length > 1) return manyServices(names, { doing: "restarting", done: "restarted" }, (c, name) => c.restartService(name));
    const client = await runningClient(SERVICE_OP_TIMEOUT_MS);
    try {
      await withSpinner(`restarting ${args.name}`, () => client.restartService(args.name));
      out(`restarted ${args.name}`);
    } finally {
      client.close();
    }
  },
});
