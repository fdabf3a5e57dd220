/**
 * The floor under the log rows (bench/logs.ts): what any compiled Bun program
 * pays to read a service's output. It spawns the printer given as its
 * arguments with both pipes, as the daemon spawns a service, and reads them
 * as the daemon does (a ReadableStream reader per pipe), keeping nothing:
 * no lines, no ring, no file, no follower. When stdout's last chunk ends
 * with the printer's "done" line it writes the printer's pid to the file
 * ADI_FLOOR_DONE (the harness then takes its CPU time and ends the printer),
 * and it exits when the pipes end.
 */
import { writeFileSync } from "node:fs";

const DONE = new TextEncoder().encode("done\n");

function endsWithDone(chunk: Uint8Array): boolean {
  if (chunk.length < DONE.length) return false;
  for (let i = 0; i < DONE.length; i++) if (chunk[chunk.length - DONE.length + i] !== DONE[i]) return false;
  return true;
}

async function discard(stream: ReadableStream<Uint8Array>, onDone?: () => void): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (onDone && endsWithDone(value)) onDone();
  }
}

const printer = Bun.spawn(process.argv.slice(2), { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
await Promise.all([discard(printer.stdout, () => writeFileSync(process.env.ADI_FLOOR_DONE!, String(printer.pid))), discard(printer.stderr)]);
await printer.exited;
