import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { showServices } from "./services-view.ts";

export default defineCommand({
  meta: meta("services", "List services and their state", ["adi daemon services", "adi daemon services --json"]),
  args: { json: { type: "boolean", description: "Print one JSON array" } },
  run: ({ args }) => showServices(args.json === true),
});
