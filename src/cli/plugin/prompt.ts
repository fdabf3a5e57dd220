import { readSync, writeSync } from "node:fs";
import { isatty } from "../isatty.ts";
import { err } from "../output.ts";

/** One line from the terminal on fd 0 (without the newline); null at end of input. */
function readLine(): string | null {
  const buf = Buffer.alloc(1);
  let line = "";
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, 1, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
        Bun.sleepSync(10);
        continue;
      }
      return line === "" ? null : line;
    }
    if (n === 0) return line === "" ? null : line;
    const c = buf.toString("latin1");
    if (c === "\n") return line.replace(/\r$/, "");
    line += c;
  }
}

/**
 * Ask a yes/no question, default no. Only a terminal is asked: with no TTY on
 * stdin the answer is `fallback` (no, unless --yes), so piping `yes` into an
 * install never grants root by accident. The question and its answer go to
 * stderr: with stdout redirected (`> file`, `| less`) the user would
 * otherwise grant root to commands they were never shown.
 */
export function confirm(question: string, fallback: boolean): boolean {
  if (!isatty(0)) {
    err(`${question} [y/N] ${fallback ? "yes (--yes)" : "no (stdin is not a terminal; use --yes to approve)"}`);
    return fallback;
  }
  if (fallback) {
    err(`${question} [y/N] yes (--yes)`);
    return true;
  }
  writeSync(2, `${question} [y/N] `);
  const answer = readLine();
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer);
}
