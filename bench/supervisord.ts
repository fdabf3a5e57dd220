/**
 * supervisord as a bench peer: a config in a temp dir, its own unix socket,
 * run in the foreground (`-n`) in its own session so it and every program it
 * started can be stopped by its pid. Installed with apt when missing.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killSession } from "../src/daemon/services/process-group.ts";
import { ensureApt } from "./lib.ts";

export interface Program {
  name: string;
  command: string;
  /** Extra `key=value` lines for the [program:x] section. */
  extra?: string[];
}

export interface Supervisord {
  pid: number;
  dir: string;
  /** True once it answers an XML-RPC supervisor.getState with RUNNING. */
  answers(): Promise<boolean>;
  /** TERM (it stops its programs), then KILL whatever is left of its session. */
  stop(): Promise<void>;
}

export function ensureSupervisord(): void {
  ensureApt("supervisord", "supervisor");
}

const GET_STATE = `<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName><params/></methodCall>`;

/** One XML-RPC call over the unix socket; resolves with the body, or null if it could not connect. */
export async function xmlRpc(socketPath: string, body: string): Promise<string | null> {
  let text = "";
  let done: (v: string | null) => void = () => {};
  const result = new Promise<string | null>((r) => (done = r));
  try {
    const socket = await Bun.connect({
      unix: socketPath,
      socket: {
        data(_s, chunk) {
          text += chunk.toString();
          if (text.includes("</methodResponse>")) done(text);
        },
        close: () => done(text || null),
        error: () => done(null),
      },
    });
    socket.write(`POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const out = await result;
    socket.end();
    return out;
  } catch {
    return null;
  }
}

export function startSupervisord(dir: string, programs: Program[]): Supervisord {
  ensureSupervisord();
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, "supervisor.sock");
  const conf = join(dir, "supervisord.conf");
  const lines = [
    "[unix_http_server]",
    `file=${sock}`,
    "[supervisord]",
    `logfile=${join(dir, "supervisord.log")}`,
    `pidfile=${join(dir, "supervisord.pid")}`,
    `childlogdir=${dir}`,
    "nodaemon=true",
    "user=root",
    "[rpcinterface:supervisor]",
    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    "[supervisorctl]",
    `serverurl=unix://${sock}`,
  ];
  for (const p of programs) {
    lines.push(`[program:${p.name}]`, `command=${p.command}`, "autorestart=true", ...(p.extra ?? []));
  }
  writeFileSync(conf, lines.join("\n") + "\n");
  const proc = Bun.spawn(["supervisord", "-n", "-c", conf], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  return {
    pid: proc.pid,
    dir,
    async answers() {
      return (await xmlRpc(sock, GET_STATE))?.includes("RUNNING") ?? false;
    },
    async stop() {
      try {
        process.kill(proc.pid, "SIGTERM");
      } catch {}
      const timer = setTimeout(() => killSession(proc.pid, 5_000), 15_000);
      await proc.exited;
      clearTimeout(timer);
      await killSession(proc.pid, 5_000);
    },
  };
}
