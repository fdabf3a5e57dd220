import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { currentUnit, enableUnit } from "../system/apply-unit.ts";

export default defineCommand({
  meta: meta("enable", "Start the daemon at login (systemd user unit, launchd agent or Scheduled Task)", ["adi daemon enable", "adi daemon enable --dry-run"]),
  args: { "dry-run": { type: "boolean", description: "Print the unit and the commands instead of installing" } },
  run({ args }) {
    enableUnit(currentUnit(), Boolean(args["dry-run"]));
  },
});
