import { defineCommand } from "citty";
import { VERSION } from "../version.ts";
import { meta } from "./meta.ts";

export const root = defineCommand({
  meta: {
    ...meta("adi", "Supervise plugin services and run commands for plugins", [
      "adi daemon start",
      "adi daemon start web -- python3 -m http.server 8080",
      "adi daemon logs --all -f",
      "adi daemon --help",
    ]),
    version: VERSION,
  },
  subCommands: {
    daemon: () => import("./daemon/index.ts").then((m) => m.default),
    plugin: () => import("./plugin/index.ts").then((m) => m.default),
    completion: () => import("./completion.ts").then((m) => m.default),
  },
});
