import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { runningClient } from "../connect.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { out } from "../output.ts";
import { withSpinner } from "../spinner.ts";

export default defineCommand({
  meta: meta("restart", "Stop a service, then start it again", ["adi daemon restart web"]),
  args: { name: { type: "positional", required: true, description: "Service to restart" } },
  async run({ args }) {
    const client = await runningClient(SERVICE_OP_TIMEOUT_MS);
    try {
      await withSpinner(`restarting ${args.name}`, () => client.restartService(args.name));
      out(`restarted ${args.name}`);
    } finally {
      client.close();
    }
  },
});
