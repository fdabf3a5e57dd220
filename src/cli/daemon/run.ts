import { defineCommand } from "citty";

export default defineCommand({
  meta: {
    name: "run",
    description: "Run the daemon in the foreground, logging to stderr (Ctrl-C stops it). Example: adi daemon run",
  },
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
