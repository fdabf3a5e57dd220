import { expect, test } from "bun:test";
import { specFromConfig } from "../../src/daemon/services/service-config.ts";
import { MAX_STOP_TIMEOUT_MS } from "../../src/daemon/services/spec.ts";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { createRequest, createServiceConfig, decodeRequest, encodeRequest, type ServiceConfigInit } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";

// Durations in an ad-hoc config become timers. A timer past 2^31 - 1 ms fires after 1 ms, so an
// unbounded stop timeout would KILL at once and an unbounded health interval would probe every
// millisecond: they are refused with INVALID_ARGUMENT, as plugin.toml refuses them.

function refusal(config: ServiceConfigInit): AdiError {
  try {
    specFromConfig("web", createServiceConfig(config));
  } catch (e) {
    if (e instanceof AdiError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

const tcp = { case: "tcp" as const, value: "127.0.0.1:8080" };

test("stop_timeout_ms up to an hour is kept; more is refused, naming the field and the limit", () => {
  expect(specFromConfig("web", createServiceConfig({ command: "sleep", stopTimeoutMs: MAX_STOP_TIMEOUT_MS })).stopTimeoutMs).toBe(3_600_000);
  expect(specFromConfig("web", createServiceConfig({ command: "sleep" })).stopTimeoutMs).toBe(10_000);
  const e = refusal({ command: "sleep", stopTimeoutMs: 3_000_000_000 });
  expect(e.code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect(e.message).toBe("service web: stop_timeout_ms must be at most 3600000 ms, got 3000000000");
});

test("health interval up to a day and timeout up to an hour are kept; more is refused", () => {
  const ok = specFromConfig("web", createServiceConfig({ command: "sleep", health: { intervalMs: 86_400_000, timeoutMs: 3_600_000, probe: tcp } }));
  expect(ok.health).toMatchObject({ intervalMs: 86_400_000, timeoutMs: 3_600_000 });
  const interval = refusal({ command: "sleep", health: { intervalMs: 3_000_000_000, probe: tcp } });
  expect(interval.code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect(interval.message).toBe("health.interval_ms must be at most 86400000 ms, got 3000000000");
  expect(refusal({ command: "sleep", health: { timeoutMs: 3_600_001, probe: tcp } }).message).toBe("health.timeout_ms must be at most 3600000 ms, got 3600001");
});

test("env keys that exec would misread, and NUL in argv, env or a probe, are refused", () => {
  const cases: [ServiceConfigInit, string][] = [
    [{ command: "env", env: { "A=B": "c" } }, 'service web: env key "A=B" must be non-empty, without "=" or NUL'],
    [{ command: "env", env: { "": "c" } }, 'service web: env key "" must be non-empty, without "=" or NUL'],
    [{ command: "env", env: { A: "b\0c" } }, "service web: env A must not contain NUL"],
    [{ command: "echo", args: ["ok", "b\0c"] }, "service web: argument 2 must not contain NUL"],
    [{ command: "ec\0ho" }, "service web: the command must not contain NUL"],
    [{ command: "sleep", health: { probe: { case: "command", value: { command: "true", args: ["\0"] } } } }, "health.command: argument 1 must not contain NUL"],
  ];
  for (const [config, message] of cases) {
    const e = refusal(config);
    expect({ code: e.code, message: e.message }).toEqual({ code: ErrorCode.INVALID_ARGUMENT, message });
  }
  expect(specFromConfig("web", createServiceConfig({ command: "env", env: { A: "b=c", B: "" } })).env).toEqual({ A: "b=c", B: "" });
});

test("max_restarts left out is the default of plugin.toml and the CLI (5); an explicit 0 is kept (never restart)", () => {
  expect(specFromConfig("web", createServiceConfig({ command: "sleep", restartOnFailure: true })).maxRestarts).toBe(5);
  expect(specFromConfig("web", createServiceConfig({ command: "sleep", restartOnFailure: true, maxRestarts: 0 })).maxRestarts).toBe(0);
  // On the wire too: an explicit 0 is sent and read back as 0, a field left out as absent.
  const zero = decodeRequest(encodeRequest(createRequest({ id: 1, kind: { case: "startService", value: { name: "web", config: { command: "sleep", maxRestarts: 0 } } } })));
  const none = decodeRequest(encodeRequest(createRequest({ id: 1, kind: { case: "startService", value: { name: "web", config: { command: "sleep" } } } })));
  expect(zero.kind.case === "startService" && zero.kind.value.config?.maxRestarts).toBe(0);
  expect(none.kind.case === "startService" && none.kind.value.config?.maxRestarts).toBeUndefined();
});

test("max_restarts up to 1000 (as plugin.toml and --max-restarts allow) is kept; more is refused", () => {
  expect(specFromConfig("web", createServiceConfig({ command: "sleep", maxRestarts: 1000 })).maxRestarts).toBe(1000);
  expect(refusal({ command: "sleep", maxRestarts: 1001 }).message).toBe("service web: max_restarts must be at most 1000, got 1001");
});
