import {
  decodeRequest as decodeRequestMessage,
  decodeResponse as decodeResponseMessage,
  encodeRequest,
  encodeResponse,
  type Request,
  type RequestInit,
  type Response,
  type ResponseInit,
} from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { encodeFrame, putFrameHeader } from "./frame.ts";
import { FRAME_HEADER_BYTES, MAX_REQUEST_FRAME, REUSED_FRAME_BUFFER_MAX } from "./limits.ts";
import { WireWriter } from "./wire.ts";

export type RequestKind = NonNullable<Request["kind"]["case"]>;
export type ResponseKind = Response["kind"];
/** A request's oneof as plain objects (nested messages need no create()). */
export type RequestKindInit = NonNullable<RequestInit["kind"]>;
/** A response's oneof as plain objects. */
export type ResponseKindInit = NonNullable<ResponseInit["kind"]>;
export type RequestOf<K extends RequestKind> = Extract<Request["kind"], { case: K }>["value"];

/**
 * A request as a message or a plain init object (nested messages need no
 * create()). What cannot be sent is INVALID_ARGUMENT, for every transport: a
 * value the wire cannot carry (a uint32 field given 2^32), or a request over
 * MAX_REQUEST_FRAME, which the daemon would answer with PROTOCOL, closing the
 * connection and failing every other request on it.
 */
export function encodeRequestFrame(request: RequestInit): Uint8Array {
  const what = request.kind?.case ?? "the request";
  let message: Uint8Array;
  try {
    message = encodeRequest(request);
  } catch (err) {
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `cannot send ${what}: ${(err as Error).message}`);
  }
  if (message.length > MAX_REQUEST_FRAME) {
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `cannot send ${what}: the request is ${message.length} bytes, over the daemon's limit of ${MAX_REQUEST_FRAME}`);
  }
  return encodeFrame(message);
}

export function encodeResponseFrame(response: ResponseInit): Uint8Array {
  return encodeFrame(encodeResponse(response));
}

const sharedWriter = new WireWriter();

/**
 * encodeResponseFrame into one buffer that the next call reuses: hand the
 * frame to something that writes or copies it before then
 * (WriteQueue.pushTransient). A fresh writer per response went through six
 * buffers for a list of 100 services (2.7 KB), then the message was copied
 * twice more (out of the writer, into the frame). In a flood of 5,000
 * `list_services` (100 services) that took the daemon's RSS to 124–128 MB
 * before JSC collected, against 62–63 MB now (bench/README.md).
 */
export function encodeResponseFrameShared(response: ResponseInit): Uint8Array {
  sharedWriter.restart(FRAME_HEADER_BYTES, REUSED_FRAME_BUFFER_MAX);
  const frame = encodeResponse(response, sharedWriter);
  putFrameHeader(frame, frame.length - FRAME_HEADER_BYTES);
  return frame;
}

// The generated decoders skip unknown fields, never keep them: the daemon never
// re-encodes a request, and keeping them let one 1 MiB frame of tiny unknown
// fields allocate a quarter of a million objects (test/hardening/fuzz.test.ts).

export function decodeRequest(payload: Uint8Array): Request {
  try {
    return decodeRequestMessage(payload);
  } catch (err) {
    throw new AdiError(ErrorCode.PROTOCOL, `malformed request: ${(err as Error).message}`);
  }
}

export function decodeResponse(payload: Uint8Array): Response {
  try {
    return decodeResponseMessage(payload);
  } catch (err) {
    throw new AdiError(ErrorCode.PROTOCOL, `malformed response: ${(err as Error).message}`);
  }
}

export function errorResponse(id: number, err: AdiError): ResponseInit & { id: number } {
  return { id, kind: { case: "error", value: { code: err.code, message: err.message } } };
}
