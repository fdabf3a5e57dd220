/**
 * Generates src/gen/adi/daemon/v1/daemon_wire.ts: encode, decode and create
 * functions written out per message, on top of src/protocol/wire.ts.
 *
 * Why: loading protobuf-es's reflection runtime and booting the descriptors of
 * daemon_pb.ts costs ≈ 40 ms and ≈ 15 MB in every process, which put every
 * CLI command at 4x a compiled hello-world and the daemon's cold start over
 * 100 ms (bench/README.md). The generated functions produce and accept the
 * very objects protobuf-es does (the message types are daemon_pb.ts's, imported
 * as types only), so protobuf-es stays the contract and a test checks both
 * codecs against each other (test/protocol/wire-codec.test.ts).
 *
 * Run through `bun run gen` after `buf generate`; `--check` only compares. It fails on any field kind
 * it does not generate (int64, packed lists, maps other than string→string), so
 * a .proto change that needs more stops here instead of miscoding.
 */
import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { join } from "node:path";
import { file_adi_daemon_v1_daemon as file } from "../src/gen/adi/daemon/v1/daemon_pb.ts";

const OUT = join(import.meta.dir, "..", "src", "gen", "adi", "daemon", "v1", "daemon_wire.ts");

const enum Wire {
  Varint = 0,
  Bit64 = 1,
  LengthDelimited = 2,
}

interface ScalarCode {
  wire: Wire;
  read: string;
  write: string;
  zero: string;
  /** A condition on `v` that is true when the value must be written (implicit presence). */
  nonZero: string;
  tsType: string;
}

const SCALARS: Partial<Record<ScalarType, ScalarCode>> = {
  [ScalarType.STRING]: { wire: Wire.LengthDelimited, read: "r.string()", write: "string", zero: '""', nonZero: 'v !== ""', tsType: "string" },
  [ScalarType.BYTES]: { wire: Wire.LengthDelimited, read: "r.bytes()", write: "bytes", zero: "new Uint8Array(0)", nonZero: "v.length > 0", tsType: "Uint8Array" },
  [ScalarType.UINT32]: { wire: Wire.Varint, read: "r.uint32()", write: "uint32", zero: "0", nonZero: "v !== 0", tsType: "number" },
  [ScalarType.INT32]: { wire: Wire.Varint, read: "r.int32()", write: "int32", zero: "0", nonZero: "v !== 0", tsType: "number" },
  [ScalarType.BOOL]: { wire: Wire.Varint, read: "r.bool()", write: "bool", zero: "false", nonZero: "v", tsType: "boolean" },
  // -0 is not the zero value: protobuf-es writes it (Object.is), so the bytes agree.
  [ScalarType.DOUBLE]: { wire: Wire.Bit64, read: "r.double()", write: "double", zero: "0", nonZero: "!Object.is(v, 0)", tsType: "number" },
};
const ENUM: ScalarCode = { wire: Wire.Varint, read: "r.int32()", write: "int32", zero: "0", nonZero: "v !== 0", tsType: "number" };

function unsupported(field: DescField, what: string): never {
  throw new Error(`gen-wire: ${field.parent.typeName}.${field.name}: ${what} is not generated; extend scripts/gen-wire.ts`);
}

function scalarOf(field: DescField, scalar: ScalarType | undefined): ScalarCode {
  const code = scalar === undefined ? undefined : SCALARS[scalar];
  return code ?? unsupported(field, `scalar type ${scalar === undefined ? "?" : ScalarType[scalar]}`);
}

/** The scalar code of a singular field or a list element. */
function valueCode(field: DescField): ScalarCode | "message" {
  switch (field.fieldKind) {
    case "scalar":
      return scalarOf(field, field.scalar);
    case "enum":
      return ENUM;
    case "message":
      return "message";
    case "list":
      if (field.listKind === "message") return "message";
      if (field.listKind === "enum") return unsupported(field, "a repeated enum (packed)");
      if (field.scalar !== ScalarType.STRING && field.scalar !== ScalarType.BYTES) return unsupported(field, "a repeated number (packed)");
      return scalarOf(field, field.scalar);
    case "map":
      if (field.mapKey !== ScalarType.STRING || field.mapKind !== "scalar" || field.scalar !== ScalarType.STRING) {
        return unsupported(field, "a map other than map<string, string>");
      }
      return "message";
  }
}

const tagOf = (field: DescField, wire: Wire): number => ((field.number << 3) | wire) >>> 0;
const ts = (message: DescMessage): string => message.name;
const explicit = (field: DescField): boolean => field.presence === FeatureSet_FieldPresence.EXPLICIT;

function enumConst(e: DescEnum): string {
  const members = e.values.map((v) => `  readonly ${v.localName}: pb.${e.name}.${v.localName};`);
  const forward = e.values.map((v) => `  ${v.localName}: ${v.number} as pb.${e.name}.${v.localName},`);
  const reverse = e.values.map((v) => `  ${v.number}: "${v.localName}",`);
  return [
    `export type ${e.name} = pb.${e.name};`,
    `/** ${e.typeName}: the values of pb.${e.name} by name, and names by value (like a TypeScript enum). */`,
    `export const ${e.name}: {`,
    ...members,
    "  readonly [value: number]: string | undefined;",
    "} = {",
    ...forward,
    ...reverse,
    "};",
  ].join("\n");
}

function defaultOf(field: DescField): string {
  if (field.fieldKind === "list") return "[]";
  if (field.fieldKind === "map") return "{}";
  if (field.fieldKind === "message" || explicit(field)) return "undefined";
  const code = valueCode(field);
  return code === "message" ? "undefined" : code.zero;
}

function newFn(m: DescMessage): string {
  const props = [`$typeName: "${m.typeName}"`];
  for (const member of m.members) {
    if (member.kind === "oneof") props.push(`${member.localName}: { case: undefined }`);
    else if (defaultOf(member) !== "undefined") props.push(`${member.localName}: ${defaultOf(member)}`);
  }
  return `function new${ts(m)}(): pb.${ts(m)} {\n  return { ${props.join(", ")} } as pb.${ts(m)};\n}`;
}

function createFn(m: DescMessage): string {
  const lines = [`export function create${ts(m)}(init?: ${ts(m)}Init): pb.${ts(m)} {`, `  const m = new${ts(m)}();`, "  if (init === undefined) return m;"];
  for (const member of m.members) {
    if (member.kind === "oneof") {
      lines.push(`  const ${member.localName} = init.${member.localName};`);
      lines.push(`  switch (${member.localName}?.case) {`);
      for (const f of member.fields) {
        const value = f.fieldKind === "message" ? `create${ts(f.message)}(${member.localName}.value)` : `${member.localName}.value`;
        lines.push(`    case "${f.localName}": m.${member.localName} = { case: "${f.localName}", value: ${value} }; break;`);
      }
      lines.push("  }");
      continue;
    }
    const f = member;
    const src = `init.${f.localName}`;
    let value: string;
    if (f.fieldKind === "message") value = `create${ts(f.message)}(${src})`;
    else if (f.fieldKind === "list") value = f.listKind === "message" ? `${src}.map((x) => create${ts(f.message)}(x))` : `[...${src}]`;
    else if (f.fieldKind === "map") value = `{ ...${src} }`;
    else value = src;
    lines.push(`  if (${src} !== undefined) m.${f.localName} = ${value};`);
  }
  lines.push("  return m;", "}");
  return lines.join("\n");
}

/** Statements writing the value `v` of field f (a singular value or one list element). */
function writeValue(f: DescField, v: string): string {
  const code = valueCode(f);
  if (f.fieldKind === "map") {
    return `w.uint32(${tagOf(f, Wire.LengthDelimited)}).fork().uint32(10).string(k).uint32(18).string(${v}).join();`;
  }
  if (code === "message") {
    if (f.message === undefined) return unsupported(f, "a message field without a type");
    return `w.uint32(${tagOf(f, Wire.LengthDelimited)}).fork(); write${ts(f.message)}(w, ${v}); w.join();`;
  }
  return `w.uint32(${tagOf(f, code.wire)}).${code.write}(${v});`;
}

function writeFn(m: DescMessage): string {
  const lines = [`function write${ts(m)}(w: WireWriter, m: ${ts(m)}Init): void {`];
  const byNumber = [...m.fields].sort((a, b) => a.number - b.number);
  const doneOneofs = new Set<string>();
  for (const f of byNumber) {
    if (f.oneof) {
      // protobuf-es writes a oneof's set member at its own field number.
      const o = f.oneof.localName;
      lines.push(`  if (m.${o}?.case === "${f.localName}") { const v = m.${o}.value; ${writeValue(f, "v")} }`);
      doneOneofs.add(o);
      continue;
    }
    const get = `const v = m.${f.localName};`;
    if (f.fieldKind === "list") {
      lines.push(`  { ${get} if (v !== undefined) for (const x of v) { ${writeValue(f, "x")} } }`);
    } else if (f.fieldKind === "map") {
      lines.push(`  { ${get} if (v !== undefined) for (const k of Object.keys(v)) { ${writeValue(f, "v[k]!")} } }`);
    } else if (f.fieldKind === "message" || explicit(f)) {
      lines.push(`  { ${get} if (v !== undefined) { ${writeValue(f, "v")} } }`);
    } else {
      const code = valueCode(f);
      if (code === "message") unsupported(f, "a message with implicit presence");
      lines.push(`  { ${get} if (v !== undefined && ${code.nonZero}) ${writeValue(f, "v")} }`);
    }
  }
  if (lines.length === 1) lines.push("  void w;", "  void m;");
  lines.push("}");
  return lines.join("\n");
}

function readCase(f: DescField): string {
  const code = valueCode(f);
  const wire = code === "message" ? Wire.LengthDelimited : code.wire;
  // The test inline, the throw in a function: one call less per field where decoding runs interpreted (the CLI).
  const check = `if (wt !== ${wire}) wrongWire(wt, ${wire}, "${f.parent.typeName}.${f.name}");`;
  if (f.oneof) {
    const o = f.oneof.localName;
    const value = f.fieldKind === "message"
      ? `read${ts(f.message)}(r, r.uint32(), m.${o}.case === "${f.localName}" ? m.${o}.value : undefined)`
      : (code as ScalarCode).read;
    return `      case ${f.number}: ${check} m.${o} = { case: "${f.localName}", value: ${value} }; break;`;
  }
  if (f.fieldKind === "map") {
    return `      case ${f.number}: ${check} readStringMapEntry(r, r.uint32(), m.${f.localName}); break;`;
  }
  if (f.fieldKind === "list") {
    const value = f.listKind === "message" ? `read${ts(f.message)}(r, r.uint32())` : (code as ScalarCode).read;
    return `      case ${f.number}: ${check} m.${f.localName}.push(${value}); break;`;
  }
  if (f.fieldKind === "message") {
    return `      case ${f.number}: ${check} m.${f.localName} = read${ts(f.message)}(r, r.uint32(), m.${f.localName}); break;`;
  }
  return `      case ${f.number}: ${check} m.${f.localName} = ${(code as ScalarCode).read}; break;`;
}

function readFn(m: DescMessage): string {
  return [
    `function read${ts(m)}(r: WireReader, length: number, into?: pb.${ts(m)}): pb.${ts(m)} {`,
    `  const m = into ?? new${ts(m)}();`,
    "  const end = r.pos + length;",
    "  while (r.pos < end) {",
    "    const tag = r.tag();",
    "    const no = tag >>> 3;",
    "    const wt = (tag & 7) as WireType;",
    "    switch (no) {",
    ...[...m.fields].sort((a, b) => a.number - b.number).map(readCase),
    "      default: r.skip(wt, no);",
    "    }",
    "  }",
    `  if (r.pos !== end) throw new Error("${m.typeName}: a field runs past the end of the message");`,
    "  return m;",
    "}",
  ].join("\n");
}

function messageBlock(m: DescMessage): string {
  return [
    `export type ${ts(m)} = pb.${ts(m)};`,
    `export type ${ts(m)}Init = MessageInitShape<typeof pb.${ts(m)}Schema>;`,
    newFn(m),
    createFn(m),
    writeFn(m),
    readFn(m),
    `export function encode${ts(m)}(message: ${ts(m)}Init, into?: WireWriter): Uint8Array {\n  const w = into ?? new WireWriter();\n  write${ts(m)}(w, message);\n  return into ? w.written() : w.finish();\n}`,
    `export function decode${ts(m)}(bytes: Uint8Array): pb.${ts(m)} {\n  return read${ts(m)}(new WireReader(bytes), bytes.length);\n}`,
  ].join("\n\n");
}

/** Top-level messages in file order; map entries are not messages of their own here. */
function allMessages(messages: readonly DescMessage[]): DescMessage[] {
  return messages.flatMap((m) => [m, ...allMessages(m.nestedMessages.filter((n) => !n.proto.options?.mapEntry))]);
}

const header = `// @generated by scripts/gen-wire.ts from ${file.proto.name} (run \`bun run gen\`); do not edit.
// Encode, decode and create for every message, written out field by field on
// src/protocol/wire.ts, so a process need not load protobuf-es's runtime nor
// boot the descriptors. Objects are daemon_pb.ts's message types. encodeX(m, into)
// appends to a writer the caller reuses and returns a view of all it holds, valid
// until the writer's next use (the daemon's responses: src/protocol/messages.ts).
/* eslint-disable */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { WireReader, WireWriter, type WireType } from "../../../../protocol/wire.ts";
import type * as pb from "./${file.proto.name.split("/").pop()!.replace(/\.proto$/, "_pb.ts")}";

function wrongWire(actual: WireType, expected: number, field: string): never {
  throw new Error(\`\${field}: wire type \${actual}, expected \${expected}\`);
}

/** A map<string, string> entry: key = 1, value = 2, either may be absent. */
function readStringMapEntry(r: WireReader, length: number, map: { [key: string]: string }): void {
  const end = r.pos + length;
  let key = "";
  let value = "";
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = (tag & 7) as WireType;
    if (no === 1) { if (wt !== 2) wrongWire(wt, 2, "map key"); key = r.string(); }
    else if (no === 2) { if (wt !== 2) wrongWire(wt, 2, "map value"); value = r.string(); }
    else r.skip(wt, no);
  }
  if (r.pos !== end) throw new Error("map entry: a field runs past the end of the entry");
  // A key may be "__proto__": define it as an own property, never call the setter.
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}
`;

const text = `${[header, ...file.enums.map(enumConst), ...allMessages(file.messages).map(messageBlock)].join("\n\n")}\n`;
if (process.argv.includes("--check")) {
  // For the test suite: the committed file must be what daemon_pb.ts generates now.
  const current = await Bun.file(OUT).text().catch(() => "");
  if (current !== text) {
    console.error(`gen-wire: ${OUT} is out of date with daemon_pb.ts: run \`bun run gen\``);
    process.exit(1);
  }
  console.log("gen-wire: up to date");
} else {
  await Bun.write(OUT, text);
  console.log(`gen-wire: wrote ${OUT}`);
}
