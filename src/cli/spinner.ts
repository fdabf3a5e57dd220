import { isatty } from "./isatty.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Quick operations finish before the spinner would show: no flicker. */
const SHOW_AFTER_MS = 200;
const FRAME_MS = 80;

function write(text: string): void {
  try {
    // Loaded when a spinner first draws, 200 ms in: importing node:fs costs ≈ 1 ms of a command's start.
    (require("node:fs") as typeof import("node:fs")).writeSync(2, text);
  } catch {
    // stderr gone: the spinner is decoration only.
  }
}

/** Whether a spinner would be drawn: stderr is a terminal that can move its cursor. */
export function spinnerShows(): boolean {
  return isatty(2) && process.env.TERM !== "dumb";
}

export interface Spinner {
  /** Change the text (e.g. a count that moved). */
  update(text: string): void;
  /** Clear the line; the caller prints the outcome itself. */
  stop(): void;
}

/**
 * A one-line spinner on stderr with the elapsed seconds, shown only when
 * stderr is a terminal and the wait lasts over 200 ms; piped, it prints
 * nothing at all. Plain text (no colour) so NO_COLOR needs no case.
 */
export function spinner(text: string, opts: { tty?: boolean } = {}): Spinner {
  const tty = opts.tty ?? spinnerShows();
  if (!tty) return { update: () => {}, stop: () => {} };
  const started = performance.now();
  let frame = 0;
  let shown = false;
  let current = text;
  const draw = () => {
    const secs = Math.floor((performance.now() - started) / 1000);
    write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${current}${secs > 0 ? ` (${secs}s)` : ""}`);
    shown = true;
  };
  let timer: Timer | null = null;
  const delay = setTimeout(() => {
    draw();
    timer = setInterval(draw, FRAME_MS);
  }, SHOW_AFTER_MS);
  return {
    update(next) {
      current = next;
    },
    stop() {
      clearTimeout(delay);
      if (timer) clearInterval(timer);
      timer = null;
      if (shown) write("\r\x1b[2K");
      shown = false;
    },
  };
}

/** Run `work` with a spinner saying `text`; the spinner is cleared however it ends. */
export async function withSpinner<T>(text: string, work: (s: Spinner) => Promise<T>): Promise<T> {
  const s = spinner(text);
  try {
    return await work(s);
  } finally {
    s.stop();
  }
}
