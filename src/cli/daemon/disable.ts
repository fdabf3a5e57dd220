import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { currentUnit, disableUnit } from "../system/apply-unit.ts";

export default defineCommand({
  meta: meta("disable", "Stop starting the daemon at login", ["adi daemon disable", "adi daemon disable --dry-run"]),
  args: { "dry-run": { type: "boolean", description: "Print what would be removed" } },
  run({ args }) {
    disableUnit(currentUnit(), Boolean(args["dry-run"]));
  },
});
