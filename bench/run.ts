/**
 * `npm run bench`: every benchmark, each beside its baseline from the same
 * run, printed as one table. `--quick`: a short smoke (fewer samples, 10
 * services instead of 100, 1 s of log load, and peers only if already
 * installed: nothing is installed). See bench/README.md.
 */
import { benchCliStartup } from "./cli-startup.ts";
import { benchDaemon } from "./daemon.ts";
import { benchLogs } from "./logs.ts";
import { benchPing } from "./ping.ts";
import { printTable, type Row } from "./lib.ts";
import { benchServices } from "./services.ts";

const rows: Row[] = [];
for (const bench of [benchPing, benchCliStartup, benchDaemon, benchServices, benchLogs]) {
  rows.push(...(await bench()));
}
printTable(rows);
