import { defineCommand } from "citty";
import { meta } from "../meta.ts";

export default defineCommand({
  meta: meta("plugin", "Install, list and remove plugins", ["adi plugin install ./network-tools", "adi plugin list --json"]),
  subCommands: {
    install: () => import("./install.ts").then((m) => m.default),
    list: () => import("./list.ts").then((m) => m.default),
    remove: () => import("./remove.ts").then((m) => m.default),
  },
});
