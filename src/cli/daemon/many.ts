import type { DaemonClient } from "../../client/daemon-client.ts";
import { AdiError } from "../../errors.ts";
import { runningClient } from "../connect.ts";
import { withSpinner } from "../spinner.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { reportOutcomes } from "./outcomes.ts";

/**
 * `adi daemon start|stop|restart a b c`: all at once, a count on the spinner
 * while they go; outcomes printed in the order given once the spinner is gone
 * (a line written under it would be mangled). Exit 1 if any failed.
 */
export async function manyServices(
  names: string[],
  words: { doing: string; done: string },
  op: (client: DaemonClient, name: string) => Promise<void>,
  client?: DaemonClient,
): Promise<void> {
  const c = client ?? (await runningClient(SERVICE_OP_TIMEOUT_MS));
  const outcomes: (AdiError | null)[] = [];
  try {
    await withSpinner(`${words.doing} ${names.length} services`, async (spin) => {
      let finished = 0;
      await Promise.all(
        names.map(async (name, i) => {
          try {
            await op(c, name);
            outcomes[i] = null;
          } catch (error) {
            if (!(error instanceof AdiError)) throw error;
            outcomes[i] = error;
          }
          spin.update(`${words.doing} ${names.length} services: ${++finished} done`);
        }),
      );
    });
  } finally {
    c.close();
  }
  reportOutcomes(names, outcomes, words.done);
}
