import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cittyParseArgs } from "../../scripts/citty-parse-args.ts";

// The build plugin that hands citty src/cli/parse-args.ts: it swaps the import, and a citty
// that no longer imports parseArgs that way fails the build instead of shipping without it.

const dir = mkdtempSync(join(tmpdir(), "adi-citty-plugin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundle(cittySource: string) {
  const root = mkdtempSync(join(dir, "case-"));
  mkdirSync(join(root, "node_modules", "citty", "dist"), { recursive: true });
  writeFileSync(join(root, "node_modules", "citty", "package.json"), JSON.stringify({ name: "citty", type: "module", exports: "./dist/index.mjs" }));
  writeFileSync(join(root, "node_modules", "citty", "dist", "index.mjs"), cittySource);
  writeFileSync(join(root, "entry.ts"), 'import { parse } from "citty";\nconsole.log(JSON.stringify(parse(["-n", "5", "web"])));\n');
  return Bun.build({ entrypoints: [join(root, "entry.ts")], target: "bun", plugins: [cittyParseArgs], throw: false });
}

test("citty's node:util import becomes the shim, which then parses", async () => {
  const result = await bundle(
    'import { parseArgs as parseArgs$1 } from "node:util";\nexport const parse = (args) => { const options = { lines: { type: "string", short: "n" } }; const processedArgs = args;\n  return parseArgs$1({\n\t\t\targs: processedArgs,\n\t\t\toptions: Object.keys(options).length > 0 ? options : void 0,\n\t\t\tallowPositionals: true,\n\t\t\tstrict: false\n\t\t}); };\n',
  );
  expect(result.success).toBe(true);
  const code = await result.outputs[0]!.text();
  expect(code).not.toContain("node:util");
  expect(code).toContain("citty's call only");
  const file = join(dir, "out.js");
  writeFileSync(file, code);
  const run = Bun.spawnSync([process.execPath, file]);
  expect(JSON.parse(run.stdout.toString())).toEqual({ values: { lines: "5" }, positionals: ["web"] });
});

test("a citty that calls parseArgs with other settings fails the build (citty would swallow the shim's refusal)", async () => {
  const result = await bundle(
    'import { parseArgs as parseArgs$1 } from "node:util";\nexport const parse = (args) => parseArgs$1({ args, options: {}, allowPositionals: true, strict: false, tokens: true });\n',
  );
  expect(result.success).toBe(false);
  expect(result.logs.join("\n")).toContain("calls parseArgs in a way src/cli/parse-args.ts was not checked for");
});

test("a citty that imports parseArgs some other way fails the build, naming the plugin", async () => {
  const result = await bundle('import { parseArgs } from "node:util";\nexport const parse = (args) => parseArgs({ args, strict: false, allowPositionals: true });\n');
  expect(result.success).toBe(false);
  expect(result.logs.join("\n")).toContain("update scripts/citty-parse-args.ts");
});
