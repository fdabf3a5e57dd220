import { defineCommand } from "citty";
import { meta } from "../meta.ts";

export default defineCommand({
  meta: meta("run", "Run the daemon in the foreground, logging to stderr (Ctrl-C stops it)", ["adi daemon run"]),
  args: {
    background: { type: "boolean", description: "Log to ADI_DAEMON_LOG instead of stderr (used by `adi daemon start`)" },
  },
  async run({ args }) {
    // Imported here so no other command pays for the daemon's code.
    const { runDaemon } = await import("../../daemon/main.ts");
    const code = await runDaemon({ background: Boolean(args.background) });
    process.exit(code);
  },
});
