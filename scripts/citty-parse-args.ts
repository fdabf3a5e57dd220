import type { BunPlugin } from "bun";
import { join } from "node:path";

/**
 * citty parses arguments with node:util's parseArgs. Loading node:util (and
 * the internals it pulls in) cost every command that goes through citty
 * 4–6 ms and ≈ 70 page faults (bench/README.md), so the build gives citty
 * src/cli/parse-args.ts instead: the same function for citty's one form of
 * call, held to node:util's results by test/cli/parse-args.test.ts. Should a
 * new citty import it differently, or call it with other settings (citty
 * catches any error of parseArgs and takes every word as a positional, so a
 * refusal at run time would go unseen), the build fails here.
 */
const IMPORT = 'import { parseArgs as parseArgs$1 } from "node:util";';
/** citty's one call, with the settings the shim implements; its options come from parseRawArgs (type, short, default). */
const CALL = /parseArgs\$1\(\{\s*args: processedArgs,\s*options: Object\.keys\(options\)\.length > 0 \? options : void 0,\s*allowPositionals: true,\s*strict: false\s*\}\)/g;
const SHIM = join(import.meta.dir, "..", "src", "cli", "parse-args.ts");

export const cittyParseArgs: BunPlugin = {
  name: "citty-parse-args",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]citty[\\/]dist[\\/]index\.mjs$/ }, async ({ path }) => {
      const source = await Bun.file(path).text();
      if (!source.includes(IMPORT)) throw new Error(`citty no longer imports parseArgs as ${IMPORT} (${path}): update scripts/citty-parse-args.ts`);
      const calls = source.split("parseArgs$1(").length - 1;
      if (calls !== 1 || (source.match(CALL) ?? []).length !== 1) throw new Error(`citty calls parseArgs in a way src/cli/parse-args.ts was not checked for (${path}): update scripts/citty-parse-args.ts`);
      return { contents: source.replace(IMPORT, `import { parseArgs as parseArgs$1 } from ${JSON.stringify(SHIM)};`), loader: "js" };
    });
  },
};
