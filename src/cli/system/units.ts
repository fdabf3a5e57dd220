import { homedir } from "node:os";
import { join } from "node:path";
import { DAEMON_ALLOCATOR_ENV, withDaemonAllocatorEnv } from "../../client/launch.ts";
import { MAX_STOP_TIMEOUT_MS } from "../../daemon/services/spec.ts";
import { adiHome } from "../../protocol/transport.ts";

/**
 * Start-at-login units for the daemon, generated from the running binary's
 * path. Pure functions (platform and paths are parameters) so every
 * platform's text is tested on Linux.
 */
export interface UnitSpec {
  /** argv that runs adi (the compiled binary, or bun + entry script). */
  launcher: string[];
  /** Environment to pin in the unit (ADI_HOME etc. when the user set them). */
  env: Record<string, string>;
}

export interface UnitFile {
  platform: "linux" | "darwin" | "win32";
  path: string;
  text: string;
  /** Commands that activate it (run by `enable`, printed by --dry-run). */
  activate: string[][];
  deactivate: string[][];
  /** Commands that make the manager read its files again: after the file is removed (disable), or put back (a failed enable). */
  reload: string[][];
  notes: string[];
}

const ADI_ENV_KEYS = ["ADI_HOME", "ADI_DAEMON_SOCKET", "ADI_DAEMON_PID", "ADI_DAEMON_LOG", "ADI_USER", "ADI_ROOT_USER"];

/**
 * What a unit sets for the daemon: the ADI_* variables the user set, and the
 * allocator settings (client/launch.ts; the user's value wins). The home is
 * pinned when XDG_DATA_HOME chose it: a service manager's environment need
 * not carry XDG_DATA_HOME, and the daemon would then serve another home than
 * the one the CLI dials.
 */
export function pinnedEnv(env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform, home = homedir()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of [...ADI_ENV_KEYS, ...Object.keys(DAEMON_ALLOCATOR_ENV)]) if (env[key]) out[key] = env[key]!;
  if (!out.ADI_HOME && env.XDG_DATA_HOME?.startsWith("/") && platform !== "win32") out.ADI_HOME = adiHome(env, platform, home);
  return withDaemonAllocatorEnv(out);
}

/** systemd quoting: double quotes, with backslash and quote escaped; `%` doubled (specifier). */
function systemdQuote(word: string): string {
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%")}"`;
}

/** An ExecStart word: systemdQuote, and `$` doubled (ExecStart expands `$NAME`; Environment= does not). */
function execQuote(word: string): string {
  return systemdQuote(word).replace(/\$/g, "$$$$");
}

/**
 * How long a service manager may take to stop the daemon before it KILLs
 * everything: the daemon bounds its own stop by the services' stop timeouts
 * (at most 3600 s, then SIGKILL), so the manager must not cut that short.
 */
export const MANAGER_STOP_TIMEOUT_SECS = MAX_STOP_TIMEOUT_MS / 1000 + 60;

function xmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function systemdUnit(spec: UnitSpec, env: Record<string, string | undefined>, home = homedir()): UnitFile {
  const configHome = env.XDG_CONFIG_HOME || join(home, ".config");
  const path = join(configHome, "systemd", "user", "adi.service");
  const lines = [
    "[Unit]",
    "Description=adi daemon: supervises plugin services",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${[...spec.launcher, "daemon", "run"].map(execQuote).join(" ")}`,
    ...Object.entries(spec.env).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`),
    // The daemon stops its services on SIGTERM; give them their stop timeouts.
    "KillMode=mixed",
    `TimeoutStopSec=${MANAGER_STOP_TIMEOUT_SECS}`,
    "Restart=on-failure",
    "RestartSec=1",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ];
  return {
    platform: "linux",
    path,
    text: lines.join("\n"),
    activate: [
      ["systemctl", "--user", "daemon-reload"],
      ["systemctl", "--user", "enable", "--now", "adi.service"],
    ],
    deactivate: [["systemctl", "--user", "disable", "--now", "adi.service"]],
    reload: [["systemctl", "--user", "daemon-reload"]],
    notes: ["to start adi at boot without a login session: loginctl enable-linger $USER"],
  };
}

export function launchdAgent(spec: UnitSpec, home = homedir()): UnitFile {
  const label = "dev.adi.daemon";
  const path = join(home, "Library", "LaunchAgents", `${label}.plist`);
  const args = [...spec.launcher, "daemon", "run", "--background"].map((a) => `    <string>${xmlEscape(a)}</string>`);
  const envEntries = Object.entries(spec.env).flatMap(([k, v]) => [`    <key>${xmlEscape(k)}</key>`, `    <string>${xmlEscape(v)}</string>`]);
  const text = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "  <key>Label</key>",
    `  <string>${label}</string>`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...args,
    "  </array>",
    ...(envEntries.length ? ["  <key>EnvironmentVariables</key>", "  <dict>", ...envEntries, "  </dict>"] : []),
    "  <key>RunAtLoad</key>",
    "  <true/>",
    // launchd KILLs an agent 20 s after SIGTERM unless told otherwise.
    "  <key>ExitTimeOut</key>",
    `  <integer>${MANAGER_STOP_TIMEOUT_SECS}</integer>`,
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key>",
    "    <false/>",
    "  </dict>",
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
  return {
    platform: "darwin",
    path,
    text,
    activate: [["launchctl", "load", "-w", path]],
    deactivate: [["launchctl", "unload", "-w", path]],
    reload: [],
    notes: [],
  };
}

/** Windows: a Scheduled Task at logon, described by the XML schtasks imports. */
export function windowsTask(spec: UnitSpec, env: Record<string, string | undefined>, home = homedir()): UnitFile {
  const dir = env.LOCALAPPDATA || join(home, "AppData", "Local");
  const path = join(dir, "adi", "adi-daemon-task.xml");
  const [exe, ...rest] = [...spec.launcher, "daemon", "run", "--background"];
  const quoted = rest.map((a) => (/[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a)).join(" ");
  const text = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    "  <RegistrationInfo><Description>adi daemon: supervises plugin services</Description></RegistrationInfo>",
    "  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>",
    "  <Settings>",
    "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>",
    "    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>",
    "    <RestartOnFailure><Interval>PT1M</Interval><Count>3</Count></RestartOnFailure>",
    "  </Settings>",
    "  <Actions>",
    `    <Exec><Command>${xmlEscape(exe!)}</Command><Arguments>${xmlEscape(quoted)}</Arguments></Exec>`,
    "  </Actions>",
    "</Task>",
    "",
  ].join("\n");
  return {
    platform: "win32",
    path,
    text,
    activate: [["schtasks", "/Create", "/TN", "adi-daemon", "/XML", path, "/F"]],
    deactivate: [["schtasks", "/Delete", "/TN", "adi-daemon", "/F"]],
    reload: [],
    notes: Object.keys(spec.env).some((key) => key.startsWith("ADI_")) ? ["set ADI_* variables in your user environment: Scheduled Tasks do not carry them"] : [],
  };
}

export function unitFor(platform: NodeJS.Platform, spec: UnitSpec, env: Record<string, string | undefined>, home = homedir()): UnitFile {
  if (platform === "darwin") return launchdAgent(spec, home);
  if (platform === "win32") return windowsTask(spec, env, home);
  return systemdUnit(spec, env, home);
}
