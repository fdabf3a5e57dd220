import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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
