// Entry point. `--version` answers before anything heavy is loaded, `daemon
// status|services [--json]` without citty (cli/fast-path.ts); the CLI
// (citty, protobuf, the client) is imported only when a command needs it.
import { VERSION } from "./version.ts";

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  await Bun.write(Bun.stdout, `${VERSION}\n`);
  process.exit(0);
}
const { runFastPath } = await import("./cli/fast-path.ts");
const fast = await runFastPath(argv);
if (fast !== undefined) process.exit(fast);
const { runCli } = await import("./cli/run.ts");
process.exit(await runCli(argv));
