import { defineCommand } from "citty";
import { runningClient } from "../connect.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { out } from "../output.ts";

export default defineCommand({
  meta: { name: "restart", description: "Stop a service, then start it again. Example: adi daemon restart web" },
  args: { name: { type: "positional", required: true, description: "Service to restart" } },
  async run({ args }) {
    const client = await runningClient(SERVICE_OP_TIMEOUT_MS);
    try {
      await client.restartService(args.name);
      out(`restarted ${args.name}`);
    } finally {
      client.close();
    }
  },
});
