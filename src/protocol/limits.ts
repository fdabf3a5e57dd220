/** Frame header: u32 little-endian payload length. */
export const FRAME_HEADER_BYTES = 4;
/** Largest request frame the daemon accepts. */
export const MAX_REQUEST_FRAME = 1024 * 1024;
/**
 * setTimeout's longest delay: a longer one fires after 1 ms. Deadlines on
 * both sides (a client's request timeout, the daemon's half-frame deadline)
 * stay within it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Largest response frame a client accepts (log batches, command output). */
export const MAX_RESPONSE_FRAME = 16 * 1024 * 1024;
/**
 * A buffer the daemon reuses for the frames it sends (log batches, other
 * responses) is kept up to this size; a bigger frame gets, or leaves behind,
 * one of its own, so a rare huge frame does not pin its memory.
 */
export const REUSED_FRAME_BUFFER_MAX = 256 * 1024;
/**
 * The daemon stops reading a connection's requests while more than this much
 * output waits for it, and reads on once it is back at or under it: a peer
 * that pipelines requests and does not read their answers is held up by its
 * own full socket, not by the daemon's memory. Above what log follows and
 * event watches let wait for a slow reader (4 MiB, then they skip: see
 * FOLLOWER_MAX_QUEUED_BYTES, plus one frame of at most 1 MiB), so a stream
 * never stops its connection's other requests from being read.
 */
export const OUTPUT_HIGH_WATER_BYTES = 8 * 1024 * 1024;
/**
 * Open streams (log follows, event watches) one connection may hold. Each is
 * a listener every log batch or event is offered to: 200,000 follows on one
 * connection took the daemon from 33 to 79 MB, with no error. A client that
 * follows more services opens more connections (`adi daemon logs --all -f`).
 */
export const MAX_STREAMS_PER_CONNECTION = 256;
