/** Frame header: u32 little-endian payload length. */
export const FRAME_HEADER_BYTES = 4;
/** Largest request frame the daemon accepts. */
export const MAX_REQUEST_FRAME = 1024 * 1024;
/** Largest response frame a client accepts (log batches, command output). */
export const MAX_RESPONSE_FRAME = 16 * 1024 * 1024;
