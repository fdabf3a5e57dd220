import { expect, test } from "bun:test";
import { resolvePaths } from "../../src/config.ts";
import { detectIsolation } from "../../src/daemon/privilege/isolation.ts";
import { lookupUser } from "../../src/daemon/privilege/users.ts";

// Decided from /etc/passwd before any sudo probe: no root or sudo needed.
const skip = process.platform !== "linux" ? "Linux only" : !lookupUser("nobody") ? "no user nobody here" : null;
if (skip) console.log(`test/privilege/isolation-users.test.ts skipped: ${skip}`);

test.skipIf(skip !== null)("one account as both ADI_USER and ADI_ROOT_USER leaves isolation off: plugins would have sudo", async () => {
  const plan = await detectIsolation(resolvePaths({ ADI_HOME: "/nonexistent/adi", ADI_USER: "nobody", ADI_ROOT_USER: "nobody" }), 0);
  expect(plan.enabled).toBe(false);
  expect(plan.reason).toContain("nobody and nobody must be two different users");
  expect(plan.sudo).toBeNull();
});

test.skipIf(skip !== null)("root as ADI_USER leaves isolation off", async () => {
  const plan = await detectIsolation(resolvePaths({ ADI_HOME: "/nonexistent/adi", ADI_USER: "root", ADI_ROOT_USER: "nobody" }), 0);
  expect(plan.enabled).toBe(false);
  expect(plan.reason).toContain("must not be uid 0");
});
