import { defineCommand } from "citty";
import { AdiError, ErrorCode } from "../../errors.ts";

const notYet = (what: string) => () => {
  throw new AdiError(ErrorCode.UNIMPLEMENTED, `adi plugin ${what} is not implemented yet`);
};

export default defineCommand({
  meta: { name: "plugin", description: "Install, list and remove plugins" },
  subCommands: {
    install: { meta: { name: "install", description: "Install a plugin from a directory" }, args: { path: { type: "positional", required: true } }, run: notYet("install") },
    list: { meta: { name: "list", description: "List installed plugins" }, args: { json: { type: "boolean" } }, run: notYet("list") },
    remove: { meta: { name: "remove", description: "Remove a plugin" }, args: { name: { type: "positional", required: true } }, run: notYet("remove") },
  },
});
