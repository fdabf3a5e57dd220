import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RUNTIME_CONFIG_OFF } from "../scripts/compile-flags.ts";
import { readProcStat } from "../src/util/proc-stat.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const BUN = process.execPath;

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export function summarize(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** Pin to one CPU when taskset exists, so baseline and adi see the same scheduling. */
export function pinned(cpu: number, argv: string[]): string[] {
  return Bun.which("taskset") ? ["taskset", "-c", String(cpu), ...argv] : argv;
}

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Row {
  figure: string;
  adi: string;
  baseline: string;
  ratio: string;
  target?: string;
}

export function printTable(rows: Row[]): void {
  const header = { figure: "figure", adi: "adi", baseline: "baseline", ratio: "ratio", target: "target" };
  const all = [header, ...rows];
  const keys = ["figure", "adi", "baseline", "ratio", "target"] as const;
  const widths = keys.map((k) => Math.max(...all.map((r) => (r[k] ?? "").length)));
  for (const r of all) console.log(keys.map((k, i) => (r[k] ?? "").padEnd(widths[i]!)).join("  ").trimEnd());
}

export const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
export const perSec = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;
export const ms = (v: number) => `${v.toFixed(1)} ms`;
export const mb = (kib: number) => `${(kib / 1024).toFixed(1)} MB`;
export const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/**
 * Summed resident memory (KiB) of the given pids; a pid that is gone counts 0.
 * `field`: VmRSS (all of it) or RssAnon (heap and stacks, without the pages
 * of the executable and libraries, which are file-backed and shared).
 */
export function rssKiB(pids: number[], field: "VmRSS" | "RssAnon" = "VmRSS"): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {}
  }
  return total;
}

/** utime + stime of a process in ms (from /proc/PID/stat; clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readProcStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone: no CPU time to read`);
  return (stat.utime + stat.stime) * 10;
}

/**
 * Median wall times of running each argv to completion, the commands taking
 * turns (after two warm-up rounds). A slow spell of the machine then weighs
 * on each of them alike, so their ratios hold: timed in blocks, one after
 * the other, `status` read 1.62–1.78x hello-world over three full runs
 * while interleaved `perf stat` read ≈ 1.5x. spawnSync, not spawn and
 * await: with the latter, hello-world read 20.3–22.2 ms in the daemon's rows
 * (the bench's own event loop: its timers, its client's socket), 16.0–17.3
 * with spawnSync.
 */
export function timeInTurns<T extends string[][]>(argvs: [...T], env: Record<string, string | undefined>, runs: number): { [K in keyof T]: number } {
  const samples: number[][] = argvs.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    for (let k = 0; k < argvs.length; k++) {
      const t0 = performance.now();
      Bun.spawnSync(argvs[k]!, { env, stdout: "ignore", stderr: "ignore" });
      if (i >= 2) samples[k]!.push(performance.now() - t0);
    }
  }
  return samples.map((s) => summarize(s).median) as { [K in keyof T]: number };
}

/** dist/adi, which the bench measures; it must be built first. */
export function adiBinary(): string {
  const adi = join(ROOT, "dist", "adi");
  if (!existsSync(adi)) throw new Error("dist/adi is missing: run `bun run build.ts --current` first");
  return adi;
}

/** The environment for an adi daemon and CLI on `home`, with nothing of an outer adi's (socket, pid, log). */
export function adiEnv(home: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ADI_HOME: home, NO_COLOR: "1" };
  delete env.ADI_DAEMON_SOCKET;
  delete env.ADI_DAEMON_PID;
  delete env.ADI_DAEMON_LOG;
  return env;
}

/** A compiled hello-world, built with the runtime-config flags dist/adi has: the floor for any compiled Bun CLI. */
export async function helloWorld(dir: string): Promise<string> {
  const src = join(dir, "hello.ts");
  const out = join(dir, "hello");
  writeFileSync(src, 'console.log("hello");\n');
  await compileBaseline(src, out);
  return out;
}

/**
 * Compile a baseline program with the runtime-configuration options dist/adi has (scripts/compile-flags.ts);
 * `likeAdi`: also as build.ts compiles adi (minified ESM chunks with bytecode), for one that loads adi's modules.
 */
export async function compileBaseline(src: string, outfile: string, likeAdi = false): Promise<void> {
  const result = await Bun.build({
    entrypoints: [src],
    compile: { ...RUNTIME_CONFIG_OFF, outfile },
    ...(likeAdi ? { minify: true, format: "esm", splitting: true, bytecode: true } : {}),
    throw: false,
  });
  if (!result.success) throw new Error(`building ${src} failed:\n${result.logs.join("\n")}`);
}

/** Run a command to completion; its exit code. */
export function run(argv: string[], env?: Record<string, string | undefined>): number {
  return Bun.spawnSync(argv, { env: env ?? process.env, stdout: "ignore", stderr: "inherit" }).exitCode;
}

/** Install an apt package when `binary` is missing. */
export function ensureApt(binary: string, pkg: string): void {
  if (Bun.which(binary)) return;
  console.error(`installing ${pkg} (apt-get install -y ${pkg})…`);
  if (run(["apt-get", "install", "-y", pkg]) !== 0) throw new Error(`could not install ${pkg}`);
}

/** Wait (polling every tick) until check() is true. */
export async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setImmediate(r));
  }
}
