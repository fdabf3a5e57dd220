/**
 * protobuf-es schemas of the wire contract, for plugins that want reflection
 * (toJson, a registry, create() with defaults). Kept out of `adi/client`:
 * booting them costs ≈ 40 ms and ≈ 15 MB, which the client itself avoids by
 * encoding through the generated daemon_wire.ts.
 */
export * from "../gen/adi/daemon/v1/daemon_pb.ts";
