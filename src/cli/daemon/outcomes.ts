import type { AdiError } from "../../errors.ts";
import { Exit, ExitWith } from "../exit.ts";
import { err, out, paint } from "../output.ts";

/**
 * What `adi daemon start|stop|restart a b c` prints once all are settled,
 * in the order given (`outcomes[i]` is that of `names[i]`, null for a
 * success): each success on stdout, each error on stderr, then a count of
 * the failures, with exit 1 if any failed.
 */
export function reportOutcomes(names: string[], outcomes: readonly (AdiError | null)[], done: string): void {
  let failed = 0;
  for (const [i, name] of names.entries()) {
    const error = outcomes[i];
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
