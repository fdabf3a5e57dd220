/**
 * CLI start-up: `dist/adi daemon status` (daemon up) and `dist/adi --version`
 * beside a `bun build --compile` hello-world and a spawn of /bin/true, all
 * timed the same way in the same run. Usage: bun bench/cli-startup.ts [--quick]
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT, printTable, summarize, tempDir, type Row } from "./lib.ts";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 10 : 40;

const ms = (v: number) => `${v.toFixed(1)} ms`;

/** Median wall time of running argv to completion. */
export async function timeCommand(argv: string[], env: Record<string, string | undefined>, runs = RUNS): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const p = Bun.spawn(argv, { env, stdout: "ignore", stderr: "ignore" });
    await p.exited;
    if (i >= 2) samples.push(performance.now() - t0); // first two warm the page cache
  }
  return summarize(samples).median;
}

/** A compiled hello-world: the floor for any compiled Bun CLI. */
export async function helloWorld(dir: string): Promise<string> {
  const src = join(dir, "hello.ts");
  const out = join(dir, "hello");
  writeFileSync(src, 'console.log("hello");\n');
  const p = Bun.spawn([BUN, "build", "--compile", src, "--outfile", out], { stdout: "ignore", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error("hello-world build failed");
  return out;
}

export async function benchCliStartup(): Promise<Row[]> {
  const adi = join(ROOT, "dist", "adi");
  if (!existsSync(adi)) throw new Error("dist/adi is missing: run `bun run build.ts --current` first");
  const tmp = tempDir("adi-bench-cli-");
  const env = { ...process.env, ADI_HOME: join(tmp.dir, "home"), NO_COLOR: "1" };
  try {
    const hello = await helloWorld(tmp.dir);
    const start = Bun.spawnSync([adi, "daemon", "start"], { env });
    if (start.exitCode !== 0) throw new Error(`daemon start failed: ${start.stderr}`);
    const helloMs = await timeCommand([hello], env);
    const trueMs = await timeCommand(["/bin/true"], env);
    const statusMs = await timeCommand([adi, "daemon", "status"], env);
    const versionMs = await timeCommand([adi, "--version"], env);
    Bun.spawnSync([adi, "daemon", "stop"], { env });
    return [
      { figure: "adi daemon status (daemon up)", adi: ms(statusMs), baseline: `${ms(helloMs)} hello`, ratio: `${(statusMs / helloMs).toFixed(2)}x`, target: "<= 1.3x hello-world" },
      { figure: "adi --version", adi: ms(versionMs), baseline: `${ms(helloMs)} hello`, ratio: `${(versionMs / helloMs).toFixed(2)}x` },
      { figure: "spawn /bin/true (floor)", adi: "", baseline: ms(trueMs), ratio: "" },
    ];
  } finally {
    Bun.spawnSync([adi, "daemon", "stop"], { env });
    tmp.cleanup();
  }
}

if (import.meta.main) printTable(await benchCliStartup());
