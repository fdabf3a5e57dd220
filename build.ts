/**
 * bun run build                 -> dist/adi-<os>-<arch>[.exe] for every target, dist/adi, SHA256SUMS
 * bun run build --current       -> dist/adi for this machine only (what `npm test` needs)
 * bun run build --outdir DIR    -> the same into DIR (tests build there, never over a dist/adi in use)
 * bun run build --no-bytecode   -> without --minify --bytecode --format=esm --splitting (for start-up comparisons)
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cittyParseArgs } from "./scripts/citty-parse-args.ts";
import { RUNTIME_CONFIG_OFF } from "./scripts/compile-flags.ts";

const TARGETS = [
  { os: "linux", arch: "x64" },
  { os: "linux", arch: "arm64" },
  { os: "darwin", arch: "x64" },
  { os: "darwin", arch: "arm64" },
  { os: "windows", arch: "x64" },
] as const;

const root = import.meta.dir;
const argv = process.argv.slice(2);
const outdirAt = argv.indexOf("--outdir");
const dist = outdirAt >= 0 && argv[outdirAt + 1] ? resolve(argv[outdirAt + 1]!) : join(root, "dist");
const currentOnly = argv.includes("--current");
const optimize = !argv.includes("--no-bytecode");
const hostOs = process.platform === "win32" ? "windows" : process.platform;
const hostArch = process.arch;

function outName(os: string, arch: string): string {
  return `adi-${os}-${arch}${os === "windows" ? ".exe" : ""}`;
}

/**
 * Every target gets minify and ESM output; targets of the building machine's
 * OS also get bytecode. JSC bytecode does not survive a change of OS
 * (oven-sh/bun#18416: --bytecode binaries cross-compiled for another OS
 * segfault there), so darwin and windows binaries built elsewhere go without
 * it. Across architectures of one OS it works: linux-arm64 built on
 * linux-x64 runs under qemu-aarch64 (test/release/build.test.ts) and starts
 * faster. Start-up, measured in docs/install.md: `adi --version` 87 -> 59 ms,
 * `adi daemon status` 127 -> 84 ms.
 * Splitting keeps what main.ts imports lazily (the CLI, protobuf, the
 * daemon) in chunks of their own inside the binary, loaded only when
 * imported: `adi --version` 34.8 -> 16.1 ms (= a compiled hello-world, 15.9).
 * Bun.build, not `bun build`: the CLI takes no plugins (scripts/citty-parse-args.ts).
 */
async function compile(os: string, arch: string, outfile: string): Promise<void> {
  const result = await Bun.build({
    entrypoints: [join(root, "src", "main.ts")],
    compile: { ...RUNTIME_CONFIG_OFF, target: `bun-${os}-${arch}` as Bun.Build.CompileTarget, outfile },
    ...(optimize ? { minify: true, format: "esm", splitting: true, bytecode: os === hostOs } : {}),
    plugins: [cittyParseArgs],
    throw: false,
  });
  if (!result.success) throw new Error(`build failed for ${os}-${arch}:\n${result.logs.join("\n")}`);
}

mkdirSync(dist, { recursive: true });
const targets = currentOnly ? TARGETS.filter((t) => t.os === hostOs && t.arch === hostArch) : TARGETS;
if (targets.length === 0) throw new Error(`no build target for this machine (${hostOs}-${hostArch})`);
await Promise.all(targets.map(({ os, arch }) => compile(os, arch, join(dist, outName(os, arch)))));
const sums: string[] = [];
for (const { os, arch } of targets) {
  const file = join(dist, outName(os, arch));
  sums.push(`${createHash("sha256").update(readFileSync(file)).digest("hex")}  ${outName(os, arch)}`);
  if (os === hostOs && arch === hostArch) {
    // Copy then rename: writing over a binary a running daemon was started from fails (ETXTBSY).
    const current = join(dist, os === "windows" ? "adi.exe" : "adi");
    copyFileSync(file, `${current}.${process.pid}.tmp`);
    renameSync(`${current}.${process.pid}.tmp`, current);
  }
}
if (!currentOnly) writeFileSync(join(dist, "SHA256SUMS"), `${sums.join("\n")}\n`);
console.log(`built ${targets.map((t) => outName(t.os, t.arch)).join(", ")} in ${dist}`);
