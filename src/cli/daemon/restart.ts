import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { usageError } from "../exit.ts";
import { passthrough } from "../passthrough.ts";
import { restartServices } from "./service-ops.ts";

export default defineCommand({
  meta: meta("restart", "Stop services, then start them again", ["adi daemon restart web", "adi daemon restart web api"]),
  args: { name: { type: "positional", required: true, description: "Service(s) to restart" } },
  async run({ args }) {
    if (passthrough().length > 0) throw usageError("`--` goes with `adi daemon start NAME -- CMD`, not with restart");
    return restartServices(args._);
  },
});
