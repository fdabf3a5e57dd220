import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "plugin", description: "Install, list and remove plugins" },
  subCommands: {
    install: () => import("./install.ts").then((m) => m.default),
    list: () => import("./list.ts").then((m) => m.default),
    remove: () => import("./remove.ts").then((m) => m.default),
  },
});
