import { describe, expect, test } from "bun:test";
import { parseArgs as nodeParseArgs } from "node:util";
import { parseArgs } from "../../src/cli/parse-args.ts";

// The build gives citty src/cli/parse-args.ts in place of node:util's parseArgs (build.ts).
// Whatever citty can pass it must come out as node:util's would.

type Options = Parameters<typeof parseArgs>[0]["options"];

const CONFIGS: Record<string, Options> = {
  none: undefined,
  logs: {
    lines: { type: "string", short: "n" },
    all: { type: "boolean", short: "a" },
    follow: { type: "boolean", short: "f" },
    since: { type: "string" },
    json: { type: "boolean", default: false },
  },
  defaults: {
    name: { type: "string", default: "web" },
    x: { type: "boolean", default: true },
    y: { type: "string", short: "y" },
    force: { type: "boolean", short: "F", default: false },
  },
};

const WORDS = [
  "web", "api", "", "-", "--", "---", "--=", "---x", "=", "-=", "-1", "-n", "-n5", "-n=5", "-na", "-an", "-anf",
  "-af", "-fa", "-abc", "-y", "-yz", "-ay", "-ya", "-F", "-Fy", "--lines", "--lines=3", "--lines=", "--since",
  "--since=1h", "--all", "--all=false", "--all=", "--follow", "--json", "--json=0", "--unknown", "--unknown=v",
  "--__proto__", "--__proto__=1", "-x", "--x", "--name", "--name=db", "--force", "--y=", "1h", "-5", "-é", "--é=ü",
  "-1-", "-a-b", "-a-", "--=a=b", "-n-", "-y-", "-ay-",
];

/** A deterministic generator (xorshift), so a failure names its seed and comes back the same. */
function words(seed: number): string[] {
  let s = seed || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const n = Math.floor(next() * 7);
  return Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]!);
}

/** Values as [name, value] pairs in their order, and the positionals. */
function shape(result: { values: object; positionals: string[] }) {
  return { values: Object.entries(result.values), positionals: result.positionals, proto: Object.getPrototypeOf(result.values) };
}

describe("parseArgs (citty's form) gives node:util's results", () => {
  for (const [label, options] of Object.entries(CONFIGS)) {
    test(`options: ${label}: every word, every pair of words, 3,000 generated lists`, () => {
      const pairs = WORDS.flatMap((a) => WORDS.map((b) => [a, b]));
      const lists = [...WORDS.map((w) => [w]), ...pairs, ...Array.from({ length: 3000 }, (_, i) => words(i + 1))];
      let compared = 0;
      for (const args of lists) {
        const config = { args, options, strict: false, allowPositionals: true } as const;
        const want = shape(nodeParseArgs(config as Parameters<typeof nodeParseArgs>[0]) as { values: object; positionals: string[] });
        expect({ args, ...shape(parseArgs(config)) }).toEqual({ args, ...want });
        compared++;
      }
      expect(compared).toBe(lists.length);
    });
  }

  test("refuses a call that is not citty's (strict, or no positionals)", () => {
    expect(() => parseArgs({ args: [], strict: true, allowPositionals: true })).toThrow("citty's call only");
    expect(() => parseArgs({ args: [], strict: false })).toThrow("citty's call only");
  });
});
