/**
 * The floor under `adi daemon status` (bench/daemon.ts): what any compiled
 * Bun CLI pays for the same round trip. It binds libc as the CLI does
 * (src/client/libc.ts), sends `status` and `list_services` as the constant
 * frames in ADI_STATUS_FRAMES (hex, made by the harness with the real
 * encoder), waits for both answers and prints their size. With `--decode` it
 * also loads the generated codec and decodes them, as the CLI must; like the
 * CLI's one-shot commands it holds the JIT back. With `--list` it sends only
 * the second frame, `list_services`: the floor under `adi daemon services
 * --json`. No error handling beyond an exit code: it is a measuring stick,
 * run against a daemon that is up.
 */
import { libc } from "../src/client/libc.ts";

const AF_UNIX = 1;
const SOCK_STREAM_NONBLOCK = 1 | 0o4000;
const POLLIN = 1;

const decode = process.argv.includes("--decode");
if (decode) Bun.unsafe.setJITPolicy(100);
const c = libc()!;
const hex = process.env.ADI_STATUS_FRAMES!;
const both = new Uint8Array(hex.length / 2);
for (let i = 0; i < both.length; i++) both[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
const statusFrameEnd = 4 + (both[0]! | (both[1]! << 8) | (both[2]! << 16) | (both[3]! << 24));
const listOnly = process.argv.includes("--list");
const request = listOnly ? both.subarray(statusFrameEnd) : both;
const answers = listOnly ? 1 : 2;

const path = new TextEncoder().encode(`${process.env.ADI_HOME}/daemon.sock`);
const addr = new Uint8Array(2 + path.length + 1);
addr[0] = AF_UNIX;
addr.set(path, 2);
const fd = c.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0);
if (c.connect(fd, addr) !== 0 || c.write(fd, request) !== request.length) process.exit(3);

// Read until every answer's whole frame (4-byte little-endian length, then the message) is in.
const buf = new Uint8Array(1 << 20);
const pollfd = new Int32Array([fd, POLLIN]);
let got = 0;
let ends: number[] = [];
while (ends.length < answers) {
  if (c.poll(pollfd, 5_000) <= 0) process.exit(4);
  const n = c.read(fd, buf.subarray(got));
  if (n === 0) process.exit(5); // the daemon hung up
  if (n < 0) continue; // EAGAIN or EINTR: poll again
  got += n;
  ends = [];
  for (let at = 0; at + 4 <= got; ) {
    const end = at + 4 + (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24));
    if (end > got) break;
    ends.push(end);
    at = end;
  }
}
let line = `${got} bytes`;
if (decode) {
  const { decodeResponse } = await import("../src/protocol/index.ts");
  const kinds: string[] = [];
  for (let i = 0, start = 0; i < ends.length; start = ends[i]!, i++) kinds.push(String(decodeResponse(buf.subarray(start + 4, ends[i])).kind.case));
  line += `: ${kinds.join(", ")}`;
}
c.write(1, new TextEncoder().encode(`${line}\n`));
process.exit(0);
