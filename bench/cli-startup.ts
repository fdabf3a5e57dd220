/**
 * CLI start-up without a daemon: `dist/adi --version` and `dist/adi daemon
 * status` (daemon down: exit 3) beside a compiled hello-world,
 * timed the same way in the same run. (status with the daemon up is in
 * bench/daemon.ts, with 5 services.) Usage: bun bench/cli-startup.ts [--quick]
 */
import { join } from "node:path";
import { adiBinary, adiEnv, helloWorld, ms, printTable, tempDir, timeInTurns, type Row } from "./lib.ts";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 10 : 40;

export async function benchCliStartup(): Promise<Row[]> {
  const adi = adiBinary();
  const tmp = tempDir("adi-bench-cli-");
  const env = adiEnv(join(tmp.dir, "home"));
  try {
    const hello = await helloWorld(tmp.dir);
    const [helloMs, versionMs, downMs] = timeInTurns([[hello], [adi, "--version"], [adi, "daemon", "status"]], env, RUNS);
    return [
      { figure: "adi --version", adi: ms(versionMs), baseline: `${ms(helloMs)} hello`, ratio: `${(versionMs / helloMs).toFixed(2)}x` },
      { figure: "adi daemon status (daemon down)", adi: ms(downMs), baseline: `${ms(helloMs)} hello`, ratio: `${(downMs / helloMs).toFixed(2)}x` },
    ];
  } finally {
    tmp.cleanup();
  }
}

if (import.meta.main) printTable(await benchCliStartup());
