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
