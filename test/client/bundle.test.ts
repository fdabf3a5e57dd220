import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/env.ts";

/**
 * A plugin that imports `adi/client` must get the client library and nothing
 * else of adi: no daemon, no CLI, no config, no CLI dependencies. The entry
 * lives outside the repo with `node_modules/adi` pointing at it, so the
 * package's `exports["./client"]` map is what resolves the import.
 */
let dir: string;
let inputs: string[];
let outfile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "adi-bundle-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "adi"));
  const entry = join(dir, "plugin.ts");
  writeFileSync(
    entry,
    [
      'import { DaemonClient, AdiError, ErrorCode } from "adi/client";',
      "const client = new DaemonClient({ socketPath: process.argv[2]!, timeoutMs: 2000 });",
      "try { await client.ping(); console.log('answered'); }",
      "catch (e) { console.log(e instanceof AdiError ? ErrorCode[e.code] : `other: ${e}`); }",
    ].join("\n"),
  );
  const result = await Bun.build({ entrypoints: [entry], target: "bun", outdir: join(dir, "out"), metafile: true });
  if (!result.success) throw new AggregateError(result.logs, "bundling the client failed");
  inputs = Object.keys(result.metafile!.inputs);
  outfile = result.outputs[0]!.path;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("adi/client resolves through the package exports map to the client library", () => {
  expect(inputs.some((p) => p.endsWith("src/client/index.ts"))).toBe(true);
  expect(inputs.some((p) => p.endsWith("src/client/daemon-client.ts"))).toBe(true);
});

test("the client bundle holds no daemon, CLI or plugin-management module", () => {
  const adiModules = inputs.filter((p) => /(^|\/)src\//.test(p)).map((p) => p.slice(p.lastIndexOf("src/")));
  // Exactly the layers DESIGN §2 allows the client: client, protocol, gen, errors.
  const outside = adiModules.filter((p) => !/^src\/(client|protocol|gen)\//.test(p) && p !== "src/errors.ts");
  expect(outside).toEqual([]);
  // No package at all: the generated codec runs on src/protocol/wire.ts, not on @bufbuild/protobuf.
  const deps = inputs.filter((p) => p.includes("node_modules/"));
  expect(deps).toEqual([]);
});

test("the client bundle runs on the generated codec: no protobuf-es schemas or reflection are in it", async () => {
  // Inputs are what the bundler read; the output is what survived tree-shaking and would run.
  expect(inputs.filter((p) => p.endsWith("daemon_pb.ts"))).toEqual([]);
  const code = await Bun.file(outfile).text();
  for (const marker of ["fileDesc", "messageDesc", "descriptor.proto", "google.protobuf"]) expect(code).not.toContain(marker);
  expect(code).toContain("adi.daemon.v1.Response"); // the generated decoder is there
});

test("the bundled client runs on its own and reports a missing daemon as UNAVAILABLE", async () => {
  const proc = Bun.spawn([process.execPath, outfile, join(dir, "no-daemon.sock")], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  expect(out.trim()).toBe("UNAVAILABLE");
});
