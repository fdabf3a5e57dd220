import { defineCommand } from "citty";
import { VERSION } from "../version.ts";

export const root = defineCommand({
  meta: { name: "adi", version: VERSION, description: "Supervise plugin services and run commands for plugins" },
  subCommands: {
    daemon: () => import("./daemon/index.ts").then((m) => m.default),
    plugin: () => import("./plugin/index.ts").then((m) => m.default),
    completion: () => import("./completion.ts").then((m) => m.default),
  },
});
