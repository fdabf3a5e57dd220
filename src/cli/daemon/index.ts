import { defineCommand } from "citty";
import { meta } from "../meta.ts";

export default defineCommand({
  meta: meta("daemon", "Run, inspect and control the adi daemon and its services", ["adi daemon status", "adi daemon start web -- python3 -m http.server 8080", "adi daemon logs --all -f"]),
  subCommands: {
    status: () => import("./status.ts").then((m) => m.default),
    start: () => import("./start.ts").then((m) => m.default),
    stop: () => import("./stop.ts").then((m) => m.default),
    restart: () => import("./restart.ts").then((m) => m.default),
    remove: () => import("./remove.ts").then((m) => m.default),
    run: () => import("./run.ts").then((m) => m.default),
    services: () => import("./services.ts").then((m) => m.default),
    logs: () => import("./logs.ts").then((m) => m.default),
    events: () => import("./events.ts").then((m) => m.default),
    enable: () => import("./enable.ts").then((m) => m.default),
    disable: () => import("./disable.ts").then((m) => m.default),
    "setup-users": () => import("./setup-users.ts").then((m) => m.default),
  },
});
