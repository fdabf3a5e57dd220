/**
 * hello-plugin: the smallest real adi plugin.
 *
 * `hello-plugin serve` is its service: the daemon starts it with
 * ADI_DAEMON_SOCKET (and ADI_SERVICE_NAME) in its environment, so
 * `new DaemonClient()` finds the daemon without configuration. It calls
 * ping, hello, list_services, run and sudo_run once, prints one line per call
 * to stdout (which the daemon keeps as the service's log: `adi daemon logs hello`),
 * then stays up, pinging now and then, until the daemon stops it.
 *
 * Build: bun build --compile --minify src/main.ts --outfile bin/hello-plugin
 */
import { AdiError, DaemonClient, ErrorCode, ServiceState } from "adi/client";

const PREFIX = "hello-plugin";

function say(call: string, outcome: string): void {
  console.log(`${PREFIX} ${call}: ${outcome}`);
}

function failure(err: unknown): string {
  return err instanceof AdiError ? `error ${ErrorCode[err.code]}: ${err.message}` : `error: ${String(err)}`;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();

/** Run one call; a failure is logged like a result, so every call leaves exactly one line. */
async function step(call: string, fn: () => Promise<string>): Promise<void> {
  try {
    say(call, await fn());
  } catch (err) {
    say(call, failure(err));
  }
}

async function serve(): Promise<void> {
  const client = new DaemonClient();
  say("start", `pid=${process.pid} service=${process.env.ADI_SERVICE_NAME ?? "?"} socket=${client.socketPath}`);

  await step("ping", async () => {
    const pong = await client.ping();
    return `ok version=${pong.version} uptime=${pong.uptimeSecs}s`;
  });
  await step("hello", async () => {
    const me = await client.hello(`${PREFIX}/0.1.0`);
    return `ok role=${me.role} plugin=${me.plugin || "-"} uid=${me.peerUid}`;
  });
  await step("list_services", async () => {
    const list = await client.listServices();
    const names = list.map((s) => `${s.name}=${(ServiceState[s.state] ?? "unknown").toLowerCase()}`);
    return `ok ${list.length} service(s): ${names.join(" ")}`;
  });
  await step("run id -u", async () => {
    const r = await client.run("id", ["-u"]);
    return `ok exit=${r.exitCode} uid=${text(r.stdout)}`;
  });
  await step("sudo_run id -u", async () => {
    const r = await client.sudoRun("id", ["-u"], "hello-plugin shows that its approved pattern works");
    if (!r.allowed) return `denied: ${r.reason}`;
    return `ok exit=${r.result.exitCode} uid=${text(r.result.stdout)}`;
  });
  say("ready", "all calls done; serving until stopped");

  // A real plugin would do its work here. Keep the process (and the
  // connection) alive, and notice if the daemon goes away.
  const heartbeat = setInterval(() => {
    client.ping().catch((err: unknown) => say("ping", failure(err)));
  }, 30_000);
  const stop = (signal: string) => {
    say("stop", `received ${signal}`);
    clearInterval(heartbeat);
    client.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

const [command = "help"] = process.argv.slice(2);
switch (command) {
  case "serve":
    await serve();
    break;
  case "version":
    console.log("0.1.0");
    break;
  default:
    console.log(`usage: ${PREFIX} serve | version\n(installed with \`adi plugin install DIR\`; its service \`hello\` runs \`${PREFIX} serve\`)`);
    process.exit(command === "help" ? 0 : 2);
}
