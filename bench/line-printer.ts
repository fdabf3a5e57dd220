// Bench service: once the file `go` exists, print `rate` numbered lines per
// second ("line N") for `secs` seconds in 10 ms batches with blocking writes
// (a full pipe slows it down, so nothing is dropped at the source), then
// "done"; writes its own run time (ms) into `report`, then sleeps until stopped.
// Usage: bun bench/line-printer.ts GO REPORT RATE SECS
import { existsSync, writeFileSync, writeSync } from "node:fs";

const [go, report, rateArg, secsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const secs = Number(secsArg);
while (!existsSync(go!)) await Bun.sleep(2);

function writeAll(text: string): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    }
  }
}

const perTick = rate / 100;
const ticks = secs * 100;
const t0 = performance.now();
let n = 0;
for (let tick = 0; tick < ticks; tick++) {
  let chunk = "";
  for (let i = 0; i < perTick; i++) chunk += `line ${n++}\n`;
  writeAll(chunk);
  const wait = t0 + (tick + 1) * 10 - performance.now();
  if (wait > 0) await Bun.sleep(wait);
}
writeAll("done\n");
writeFileSync(report!, String(Math.round(performance.now() - t0)));
await Bun.sleep(1e9);
