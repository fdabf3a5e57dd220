import { create } from "@bufbuild/protobuf";
import { RunSchema, SudoRunSchema } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { resolvePaths, type AdiPaths } from "../../src/config.ts";
import type { Caller } from "../../src/daemon/caller.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { setupPrivilege, type Privilege } from "../../src/daemon/privilege/index.ts";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import type { CommandResultInit } from "../../src/daemon/privilege/executor.ts";
import type { Call } from "../../src/daemon/router.ts";
import { ADI_ARGV } from "./fixtures.ts";

/**
 * The daemon's privilege wiring (setupPrivilege, as the composition root
 * builds it) in a temporary ADI_HOME, with calls made as a given caller: the
 * policy, executor, approvals and audit log under test are the real ones; only
 * the socket and the peer lookup are skipped (identity has its own tests).
 */
export class PrivilegeHarness {
  readonly paths: AdiPaths;
  priv!: Privilege;
  readonly warnings = new Set<string>();
  readonly logLines: string[] = [];

  private constructor(readonly env: Record<string, string>) {
    this.paths = resolvePaths(env);
    preparePaths(this.paths);
  }

  static async create(env: Record<string, string>): Promise<PrivilegeHarness> {
    const h = new PrivilegeHarness(env);
    const logger = createLogger(h.paths.daemonLog, "debug");
    h.priv = setupPrivilege({ paths: h.paths, logger, warnings: h.warnings, findBySession: () => undefined });
    await h.priv.detect();
    return h;
  }

  /** `adi ARGS…` against this ADI_HOME. */
  cli(args: string[]): { code: number; stdout: string; stderr: string } {
    const r = Bun.spawnSync([...ADI_ARGV, ...args], { env: this.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  install(dir: string, yes: boolean): void {
    const r = this.cli(["plugin", "install", dir, ...(yes ? ["--yes"] : [])]);
    if (r.code !== 0) throw new Error(`install ${dir} failed (${r.code}): ${r.stderr}`);
  }

  async sudoRun(caller: Caller, command: string, args: string[], reason = "test", timeoutMs = 0) {
    const call = { id: 1, caller, conn: null, request: create(SudoRunSchema, { command, args, reason, timeoutMs }) };
    const r = await this.priv.methods.sudoRun!.handle(call as unknown as Call<"sudoRun">);
    if (r?.case === "sudoDenied") return { allowed: false as const, reason: r.value.reason ?? "" };
    if (r?.case === "commandResult") return { allowed: true as const, result: r.value as CommandResultInit };
    throw new Error(`unexpected answer ${r?.case}`);
  }

  async run(caller: Caller, command: string, args: string[], timeoutMs = 0): Promise<CommandResultInit> {
    const call = { id: 1, caller, conn: null, request: create(RunSchema, { command, args, timeoutMs }) };
    const r = await this.priv.methods.run!.handle(call as unknown as Call<"run">);
    if (r?.case !== "commandResult") throw new Error(`unexpected answer ${r?.case}`);
    return r.value as CommandResultInit;
  }
}

export function pluginCaller(plugin: string | undefined, service = plugin ?? "adhoc"): Caller {
  const adi = lookupUser("adi");
  return { role: "plugin", uid: adi?.uid ?? 65534, gid: adi?.gid ?? 65534, pid: 4242, plugin, service };
}

export const adminCaller: Caller = { role: "admin", uid: 0, gid: 0, pid: 4243 };
