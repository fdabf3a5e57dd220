// Numbers given on the command line (`-n`, `--max-restarts`, `--stop-timeout`).
// Digits only: Number() would take "" and " " as 0, and "1e10", "0x10" or
// "5.0" are no way to write a count. A loop, not a RegExp: the fast path
// (fast-path.ts) runs this, where a first RegExp costs ≈ 0.4 ms (docs/cli.md).

/** Digits only, at least one. */
export function isWholeNumber(word: string | undefined): word is string {
  if (!word) return false;
  for (let i = 0; i < word.length; i++) if (word.charCodeAt(i) < 0x30 || word.charCodeAt(i) > 0x39) return false;
  return true;
}

/**
 * The most lines `-n` asks for: far more than the daemon keeps of a service
 * (DEFAULT_RING_LINES, 1000), so a larger -n gets the same lines; and inside
 * the protocol's uint32, which a larger number would not encode into.
 */
export const MAX_LOG_LINES = 1_000_000;

/** `-n WORD` as a number of lines (a larger one as MAX_LOG_LINES), or null when WORD is no whole number. */
export function logLines(word: string | undefined): number | null {
  return isWholeNumber(word) ? Math.min(Number(word), MAX_LOG_LINES) : null;
}
