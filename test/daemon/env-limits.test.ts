// ADI_READ_DEADLINE_MS and ADI_MAX_CONNECTIONS out of range (src/daemon/main.ts envInt):
// ignored with a warning, the defaults used.
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeRequestFrame } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { sleep, waitFor } from "../helpers/env.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

const d = new TestDaemon({ env: { ADI_READ_DEADLINE_MS: "2147483648", ADI_MAX_CONNECTIONS: "lots" } });
afterAll(() => d.cleanup(), 30_000);

test("ADI_READ_DEADLINE_MS past setTimeout's 2^31-1 ms is ignored with a warning: a half-sent frame is not cut off after 1 ms", async () => {
  await d.start();
  const raw = await RawSocket.connect(d.socket);
  try {
    // The deadline timer, armed at 2^31 ms, used to fire after 1 ms and close this connection.
    const ping = encodeRequestFrame({ id: 1, kind: { case: "ping", value: {} } });
    raw.write(ping.subarray(0, 3));
    await sleep(200);
    expect(raw.closed).toBe(false);
    raw.write(ping.subarray(3));
    await waitFor(() => raw.responses.length > 0 || raw.closed, 10_000, "the ping's answer");
    expect(raw.responses.map((r) => r.kind.case)).toEqual(["pong"]);
  } finally {
    raw.end();
  }
  const deadline = 'ADI_READ_DEADLINE_MS="2147483648" is not a whole number from 1 to 2147483647 (ignored: the default is used)';
  const connections = 'ADI_MAX_CONNECTIONS="lots" is not a whole number from 1 to 65536 (ignored: the default is used)';
  const log = readFileSync(join(d.home, "logs", "daemon.log"), "utf8");
  expect(log).toContain(deadline);
  expect(log).toContain(connections);
  const status = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout);
  expect(status.warnings).toEqual(expect.arrayContaining([deadline, connections]));
});
