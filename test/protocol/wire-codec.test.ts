// The generated codec (src/gen/.../daemon_wire.ts) against protobuf-es itself,
// on random messages of every type in the file: same bytes, same decoded
// objects, same created objects; and on mutated bytes, whatever the generated
// decoder accepts protobuf-es decodes to the same message.
import { describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary, ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { file_adi_daemon_v1_daemon as file } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import * as wire from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { join } from "node:path";
import { ROOT } from "../helpers/env.ts";
import { rng } from "../helpers/rng.ts";

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

function randomString(rand: Rand): string {
  const alphabets = ["", "a", "hello world", "__proto__", "ünïcødé ✓", "😀", "x".repeat(200)];
  return rand() < 0.5 ? pick(rand, alphabets) : Array.from({ length: Math.floor(rand() * 12) }, () => String.fromCharCode(32 + Math.floor(rand() * 200))).join("");
}

function randomScalar(rand: Rand, scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return randomString(rand);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * 256));
    case ScalarType.UINT32:
      return pick(rand, [0, 1, 127, 128, 300, 0xffff_ffff, Math.floor(rand() * 0xffff_ffff)]);
    case ScalarType.INT32:
      return pick(rand, [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), Math.floor(rand() * 1000) - 500]);
    case ScalarType.BOOL:
      return rand() < 0.5;
    case ScalarType.DOUBLE:
      return pick(rand, [0, -0, 1.5, -2.25, 1.7e308, Date.now() + rand(), Number.NaN]);
    default:
      throw new Error(`no random value for scalar ${ScalarType[scalar]}`);
  }
}

function randomValue(rand: Rand, field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return randomScalar(rand, field.scalar);
    case "enum":
      return pick(rand, field.enum.values).number;
    case "message":
      return randomInit(rand, field.message, depth + 1);
    case "list": {
      const n = Math.floor(rand() * 4);
      return Array.from({ length: n }, () =>
        field.listKind === "message" ? randomInit(rand, field.message, depth + 1) : field.listKind === "enum" ? pick(rand, field.enum.values).number : randomScalar(rand, field.scalar),
      );
    }
    case "map": {
      const map: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) map[randomString(rand)] = randomScalar(rand, field.scalar as ScalarType);
      return map;
    }
  }
}

/** A random init shape: each field set, left out, or set to its zero value. */
function randomInit(rand: Rand, desc: DescMessage, depth = 0): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const member of desc.members) {
    if (depth > 4 || rand() < 0.3) continue;
    if (member.kind === "oneof") {
      const f = pick(rand, member.fields);
      init[member.localName] = { case: f.localName, value: randomValue(rand, f, depth) };
    } else {
      init[member.localName] = randomValue(rand, member, depth);
    }
  }
  return init;
}

// Every message of the file, found through the generated module's exports.
const codecs = file.messages.map((desc) => {
  const mod = wire as unknown as Record<string, (x: unknown) => unknown>;
  return {
    desc,
    encode: mod[`encode${desc.name}`] as (m: unknown) => Uint8Array,
    decode: mod[`decode${desc.name}`] as (b: Uint8Array) => Message,
    create: mod[`create${desc.name}`] as (init?: unknown) => Message,
  };
});

describe("generated wire codec", () => {
  test("the committed daemon_wire.ts is what the generator makes of daemon_pb.ts now", () => {
    const r = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "gen-wire.ts"), "--check"], { stderr: "pipe", stdout: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("every message of daemon.proto has generated encode, decode and create", () => {
    for (const c of codecs) {
      expect(typeof c.encode, c.desc.typeName).toBe("function");
      expect(typeof c.decode, c.desc.typeName).toBe("function");
      expect(typeof c.create, c.desc.typeName).toBe("function");
    }
  });

  test("encode, decode and create agree with protobuf-es on random messages", () => {
    const rand = rng(0xad1);
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      for (const c of codecs) {
        const init = randomInit(rand, c.desc);
        const reference = create(c.desc, init as never);
        expect(c.create(init)).toEqual(reference);
        const bytes = toBinary(c.desc, reference);
        expect(c.encode(reference)).toEqual(bytes);
        // Encoding straight from the init shape (no create()) gives the same bytes.
        expect(c.encode(init)).toEqual(bytes);
        expect(c.decode(bytes)).toEqual(fromBinary(c.desc, bytes, { readUnknownFields: false }));
        checked++;
      }
    }
    expect(checked).toBe(300 * codecs.length);
  });

  test("enum objects map names to the values protobuf-es uses, and back", () => {
    for (const e of file.enums) {
      const generated = (wire as unknown as Record<string, Record<string | number, unknown>>)[e.name]!;
      for (const v of e.values) {
        expect(generated[v.localName]).toBe(v.number);
        expect(generated[v.number]).toBe(v.localName);
      }
    }
  });

  test("on mutated bytes, whatever the generated decoder accepts protobuf-es decodes the same", () => {
    const rand = rng(0x5eed);
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const c = pick(rand, codecs.filter((x) => x.desc.name === "Request" || x.desc.name === "Response" || x.desc.name === "ServiceConfig"));
      const bytes = Uint8Array.from(toBinary(c.desc, create(c.desc, randomInit(rand, c.desc) as never)));
      for (let flips = 1 + Math.floor(rand() * 3); flips > 0 && bytes.length > 0; flips--) {
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      }
      const cut = rand() < 0.2 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes;
      let ours: Message | undefined;
      try {
        ours = c.decode(cut);
      } catch {
        rejected++;
        continue;
      }
      accepted++;
      expect(ours).toEqual(fromBinary(c.desc, cut, { readUnknownFields: false }));
    }
    // Both outcomes must occur, or the mutation is not exercising anything.
    expect(accepted).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
  });

  test("a wrong wire type, an overrunning field and a truncated frame are errors", () => {
    // Request.id (field 1) sent length-delimited.
    expect(() => wire.decodeRequest(Uint8Array.of(0x0a, 0x01, 0x00))).toThrow(/wire type/);
    // Request.ping (field 2) claims 5 bytes and its body holds a 3-byte string that overruns it.
    expect(() => wire.decodeRequest(Uint8Array.of(0x12, 0x02, 0x0a, 0x03, 0x61, 0x62, 0x63))).toThrow();
    // A string longer than the buffer.
    expect(() => wire.decodeHello(Uint8Array.of(0x0a, 0x09, 0x61))).toThrow(/premature EOF/);
    // Invalid UTF-8 in a string field (proto3 strings are validated, like protobuf-es).
    expect(() => wire.decodeHello(Uint8Array.of(0x0a, 0x02, 0xc3, 0x28))).toThrow();
  });

  test("a map key named __proto__ is an own property, not a prototype change", () => {
    const bytes = wire.encodeServiceConfig({ env: JSON.parse('{"__proto__":"x","A":"1"}') });
    const decoded = wire.decodeServiceConfig(bytes);
    expect(Object.getPrototypeOf(decoded.env)).toBe(Object.prototype);
    expect(Object.keys(decoded.env).sort()).toEqual(["A", "__proto__"]);
    expect(decoded.env.__proto__ as unknown).toBe("x");
  });
});
