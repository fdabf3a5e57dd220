import { readProcStat } from "../../util/proc-stat.ts";
import { killMarked, killSession } from "./process-group.ts";
import type { PersistedChild } from "./state-store.ts";

/**
 * After a daemon crash (kill -9), its services keep running in their own
 * sessions, but their stdout/stderr pipes led to the dead daemon and cannot
 * be re-attached. So the new daemon does not adopt them: it KILLs each
 * recorded session and waits until it is gone, then starts what should run.
 * That way no service runs twice and no orphan is left.
 *
 * A record names a process by pid + /proc start time, so a reused pid is
 * never touched: when the pid now belongs to another process, the record's
 * session is skipped. Nothing of the old session can be left then (the
 * kernel does not hand out a pid that is still some group's or session's
 * id), and its id may now name the new process's group: killing -sid
 * would reach a stranger's group. When the leader is gone, its session and
 * group (whose ids nobody else can hold meanwhile) are killed, members
 * started no earlier than the leader only.
 *
 * Descendants that left the session (setsid, daemon(3)) carry their
 * generation's marker (process-group.ts INSTANCE_VAR), which the record
 * holds: every process carrying a recorded marker is KILLed too, whatever
 * became of its leader (a random 128-bit token names nothing else).
 */
export async function reapLeftovers(children: PersistedChild[], log: (msg: string, fields: Record<string, unknown>) => void): Promise<void> {
  const markers = new Set<string>();
  let oldest = Number.POSITIVE_INFINITY;
  for (const c of children) {
    if (c.instance === undefined || !c.startTime) continue;
    markers.add(c.instance);
    oldest = Math.min(oldest, c.startTime);
  }
  await Promise.all([
    ...children.map(async (c) => {
      if (!c.startTime) {
        // Without /proc (not Linux) the record cannot prove the pid is still ours: leave it rather than kill a stranger.
        log("leftover record skipped: its start time is unknown", { service: c.name, pid: c.pid });
        return;
      }
      const st = readProcStat(c.pid);
      const sameLeader = st !== null && st.startTime === c.startTime;
      if (st !== null && !sameLeader) {
        log("leftover record skipped: its pid now belongs to another process", { service: c.name, pid: c.pid });
        return;
      }
      const gone = await killSession(c.sid, 5_000, c.startTime);
      if (sameLeader) log("killed a service left running by a previous daemon", { service: c.name, pid: c.pid, clean: gone });
    }),
    killMarked(markers, oldest).then(({ found, gone }) => {
      if (found.length > 0) log("killed processes that left a previous daemon's service session", { pids: found, clean: gone });
    }),
  ]);
}
