import type { AdiError } from "../../errors.ts";
import { Exit, ExitWith } from "../exit.ts";
import { err, out, paint } from "../output.ts";

/**
 * What `adi daemon start|stop|restart a b c` prints once all are settled,
 * in the order given: each success on stdout, each error on stderr, then a
 * count of the failures, with exit 1 if any failed.
 */
export function reportOutcomes(names: string[], outcomes: ReadonlyMap<string, AdiError | null>, done: string): void {
  let failed = 0;
  for (const name of names) {
    const error = outcomes.get(name);
    if (error) {
      failed++;
      err(`${paint(2, "red", "error")}: ${error.message}`);
    } else {
      out(`${done} ${name}`);
    }
  }
  if (failed > 0) {
    err(`${failed} of ${names.length} services: not ${done}`);
    throw new ExitWith(Exit.failed);
  }
}
