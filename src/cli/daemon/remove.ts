import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { usageError } from "../exit.ts";
import { passthrough } from "../passthrough.ts";
import { removeServices } from "./service-ops.ts";

export default defineCommand({
  meta: meta("remove", "Stop ad-hoc services and forget them (their logs stay); a plugin's go with `adi plugin remove`", ["adi daemon remove web", "adi daemon remove web api"]),
  args: { name: { type: "positional", required: true, description: "Ad-hoc service(s) to remove" } },
  async run({ args }) {
    if (passthrough().length > 0) throw usageError("`--` goes with `adi daemon start NAME -- CMD`, not with remove");
    return removeServices(args._);
  },
});
