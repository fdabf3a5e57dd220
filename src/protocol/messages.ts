import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  RequestSchema,
  ResponseSchema,
  type Request,
  type Response,
} from "../gen/adi/daemon/v1/daemon_pb.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { encodeFrame } from "./frame.ts";

export type RequestKind = NonNullable<Request["kind"]["case"]>;
export type ResponseKind = Response["kind"];
/** A request's oneof as plain objects (nested messages need no create()). */
export type RequestKindInit = NonNullable<MessageInitShape<typeof RequestSchema>["kind"]>;
/** A response's oneof as plain objects. */
export type ResponseKindInit = NonNullable<MessageInitShape<typeof ResponseSchema>["kind"]>;
export type RequestOf<K extends RequestKind> = Extract<Request["kind"], { case: K }>["value"];

export function encodeRequestFrame(request: Request): Uint8Array {
  return encodeFrame(toBinary(RequestSchema, request));
}

export function encodeResponseFrame(response: Response): Uint8Array {
  return encodeFrame(toBinary(ResponseSchema, response));
}

/**
 * Unknown fields are skipped, not kept: the daemon never re-encodes a request,
 * and keeping them let one 1 MiB frame of tiny unknown fields allocate a
 * quarter of a million objects (found by test/hardening/fuzz.test.ts).
 */
const DECODE_OPTIONS = { readUnknownFields: false } as const;

export function decodeRequest(payload: Uint8Array): Request {
  try {
    return fromBinary(RequestSchema, payload, DECODE_OPTIONS);
  } catch (err) {
    throw new AdiError(ErrorCode.PROTOCOL, `malformed request: ${(err as Error).message}`);
  }
}

export function decodeResponse(payload: Uint8Array): Response {
  try {
    return fromBinary(ResponseSchema, payload, DECODE_OPTIONS);
  } catch (err) {
    throw new AdiError(ErrorCode.PROTOCOL, `malformed response: ${(err as Error).message}`);
  }
}

export function makeRequest(id: number, kind: RequestKindInit): Request {
  return create(RequestSchema, { id, kind });
}

export function makeResponse(id: number, kind: ResponseKindInit): Response {
  return create(ResponseSchema, { id, kind });
}

export function errorResponse(id: number, err: AdiError): Response {
  return makeResponse(id, {
    case: "error",
    value: { code: err.code, message: err.message },
  });
}
