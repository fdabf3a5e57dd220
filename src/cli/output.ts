import { isatty } from "./isatty.ts";
import { EAGAIN, EINTR, EPIPE, libc } from "../client/libc.ts";

/*
 * Terminal output without touching `process.stdout` (PLATFORM-NOTES: it alone
 * costs ~25 ms of start-up), nor `node:fs` (≈ 3–5 ms): libc's write(2) where
 * there is one to bind (client/libc.ts), else node:fs. Colour only on a TTY,
 * never with NO_COLOR.
 *
 * What the fast-path commands run (cli/fast-path.ts) avoids the built-ins
 * whose first use costs 0.1–0.5 ms of a one-shot command whose floor is a
 * hello-world's ≈ 17 ms (≈ 2.7 ms on a faster VM; bench/README.md): Array map/filter/find/every/…
 * (JSC writes them in JavaScript and compiles each on its first call; a
 * test holds the fast path to that), Buffer (Bun loads node:buffer), a
 * RegExp (the engine's first compile), String repeat/padEnd. Loops
 * instead.
 */

const encoder = new TextEncoder();

/** write(2) as node:fs writeSync reports it: bytes written, or a thrown error with a `code`. */
function writeSome(fd: number, bytes: Uint8Array, offset: number): number {
  const c = libc();
  if (!c) return (require("node:fs") as typeof import("node:fs")).writeSync(fd, bytes, offset);
  const n = c.write(fd, bytes.subarray(offset));
  if (n >= 0) return n;
  const code = c.errno();
  throw Object.assign(new Error(`write failed (errno ${code})`), { code: code === EAGAIN || code === EINTR ? "EAGAIN" : code === EPIPE ? "EPIPE" : `errno ${code}` });
}

function writeAll(fd: number, text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSome(fd, bytes, offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") continue;
      // The reader went away (`adi daemon logs -f | head`): nothing more can be shown, so stop
      // like a SIGPIPE would, but quietly (exit 0) — a follow would otherwise run forever.
      if ((err as NodeJS.ErrnoException).code === "EPIPE") process.exit(0);
      throw err;
    }
  }
}

export const out = (text: string): void => writeAll(1, text.endsWith("\n") ? text : `${text}\n`);
export const err = (text: string): void => writeAll(2, text.endsWith("\n") ? text : `${text}\n`);

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

export function colorEnabled(fd: number, env: Record<string, string | undefined> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR) return true;
  return isatty(fd);
}

const codes = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  gray: 90,
  bold: 1,
  brightGreen: 92,
  brightYellow: 93,
  brightBlue: 94,
  brightMagenta: 95,
  brightCyan: 96,
} as const;
export type Color = keyof typeof codes;

export function paint(fd: number, color: Color, text: string): string {
  return colorEnabled(fd) ? `\x1b[${codes[color]}m${text}\x1b[0m` : text;
}

/** Where the colour escape (ESC [ digits-or-; m) that starts at `at` ends, or -1 when none starts there. */
function escapeEnd(text: string, at: number): number {
  if (text.charCodeAt(at) !== 0x1b || text.charCodeAt(at + 1) !== 0x5b) return -1;
  let i = at + 2;
  for (let c = text.charCodeAt(i); (c >= 0x30 && c <= 0x39) || c === 0x3b; c = text.charCodeAt(++i));
  return text.charCodeAt(i) === 0x6d ? i + 1 : -1;
}

/** `text` without its colour escapes. */
export function stripColor(text: string): string {
  let kept = "";
  let from = 0;
  for (let at = text.indexOf("\x1b"); at >= 0; at = text.indexOf("\x1b", at + 1)) {
    const end = escapeEnd(text, at);
    if (end < 0) continue;
    kept += text.slice(from, at);
    from = end;
    at = end - 1;
  }
  return from === 0 ? text : kept + text.slice(from);
}

/** Visible width, ignoring colour escapes. */
function width(text: string): number {
  return text.includes("\x1b") ? stripColor(text).length : text.length;
}

/** `count` spaces (none for a count below 1). */
export function spaces(count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) text += " ";
  return text;
}

/** An aligned table: every column but the last padded to its widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths: number[] = [];
  for (let col = 0; col < header.length; col++) {
    let widest = 0;
    for (const row of all) widest = Math.max(widest, width(row[col] ?? ""));
    widths.push(widest);
  }
  const lines: string[] = [];
  for (const row of all) {
    let line = "";
    for (let col = 0; col < row.length; col++) {
      const cell = row[col]!;
      line += cell;
      if (col === row.length - 1) break;
      line += spaces(widths[col]! - width(cell) + 2);
    }
    lines.push(line.trimEnd());
  }
  return lines.join("\n");
}

export function formatDuration(totalSecs: number): string {
  const d = Math.floor(totalSecs / 86400);
  const h = Math.floor((totalSecs % 86400) / 3600);
  const m = Math.floor((totalSecs % 3600) / 60);
  const s = totalSecs % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Service names get a colour of their own, the same every run (FNV-1a of the name); red is left for errors. */
const SERVICE_COLORS: Color[] = ["cyan", "green", "yellow", "blue", "magenta", "brightCyan", "brightGreen", "brightYellow", "brightBlue", "brightMagenta"];

export function serviceColor(name: string): Color {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return SERVICE_COLORS[hash % SERVICE_COLORS.length]!;
}
