import { defineCommand } from "citty";
import { currentUnit, disableUnit } from "../system/apply-unit.ts";

export default defineCommand({
  meta: { name: "disable", description: "Stop starting the daemon at login. Example: adi daemon disable" },
  args: { "dry-run": { type: "boolean", description: "Print what would be removed" } },
  run({ args }) {
    disableUnit(currentUnit(), Boolean(args["dry-run"]));
  },
});
