import { expect, test } from "bun:test";
import { daemonWithoutIsolation } from "./fixtures.ts";

const daemonOf = daemonWithoutIsolation();

test("without the users, status says isolation is off and why; run still works as the owner; sudo_run is denied", async () => {
  const daemon = daemonOf();
  const json = await daemon.cli(["daemon", "status", "--json"]);
  expect(json.code).toBe(0);
  const status = JSON.parse(json.stdout);
  expect(status.isolation.enabled).toBe(false);
  expect(status.isolation.reason).toMatch(/adi-t-nouser does not exist|only supported on Linux/);
  const human = await daemon.cli(["daemon", "status"]);
  expect(human.stdout).toMatch(/isolation\s+off \(/);

  const client = daemon.client();
  const r = await client.run("id", ["-u"]);
  expect(new TextDecoder().decode(r.stdout)).toBe(`${process.getuid?.()}\n`);
  const denied = await client.sudoRun("id", ["-u"], "no users");
  client.close();
  expect(denied.allowed).toBe(false);
  if (!denied.allowed) expect(denied.reason).toMatch(/isolation is not set up/);
});
