import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { showStatus } from "./status-view.ts";

export default defineCommand({
  meta: meta("status", "Show whether the daemon is running, its paths and its services by state (exit 3 when it is not running)", ["adi daemon status", "adi daemon status --json"]),
  args: { json: { type: "boolean", description: "Print one JSON document" } },
  run: ({ args }) => showStatus(args.json === true),
});
