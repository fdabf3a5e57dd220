import { readProcStat } from "../../util/proc-stat.ts";
import { killSession } from "./process-group.ts";
import type { PersistedChild } from "./state-store.ts";

/**
 * After a daemon crash (kill -9), its services keep running in their own
 * sessions, but their stdout/stderr pipes led to the dead daemon and cannot
 * be re-attached. So the new daemon does not adopt them: it KILLs each
 * recorded session and waits until it is gone, then starts what should run.
 * That way no service runs twice and no orphan is left.
 *
 * A record names a process by pid + /proc start time, so a reused pid is
 * never touched: when the pid now belongs to another process, only members
 * of the old session started no earlier than the old leader are killed
 * (none, unless the new process happens to lead a session of the same id:
 * then the record is skipped altogether).
 */
export async function reapLeftovers(children: PersistedChild[], log: (msg: string, fields: Record<string, unknown>) => void): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (!c.startTime) {
        // Without /proc (not Linux) the record cannot prove the pid is still ours: leave it rather than kill a stranger.
        log("leftover record skipped: its start time is unknown", { service: c.name, pid: c.pid });
        return;
      }
      const st = readProcStat(c.pid);
      const sameLeader = st !== null && st.startTime === c.startTime;
      if (st !== null && !sameLeader && st.session === c.sid) {
        log("leftover record skipped: its pid now leads another session", { service: c.name, pid: c.pid });
        return;
      }
      const gone = await killSession(c.sid, 5_000, c.startTime);
      if (sameLeader) log("killed a service left running by a previous daemon", { service: c.name, pid: c.pid, clean: gone });
    }),
  );
}
