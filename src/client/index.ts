/**
 * The adi client library: everything a plugin needs to talk to the daemon.
 * Imports only the generated messages and the protocol, never daemon or CLI code.
 */
export { DaemonClient, type DaemonClientOptions, type FollowedLines, type ServiceConfigInit, type SudoRunResult } from "./daemon-client.ts";
export { AdiError, ErrorCode, errorCodeName } from "../errors.ts";
export * from "../gen/adi/daemon/v1/daemon_wire.ts";
