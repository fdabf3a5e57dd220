/** AF_UNIX (Linux). */
export const AF_UNIX = 1;
/** SOCK_STREAM | SOCK_NONBLOCK (Linux): a connect to a full listen queue fails at once (EAGAIN) instead of waiting. */
export const SOCK_STREAM_NONBLOCK = 1 | 0o4000;

/**
 * struct sockaddr_un in Linux's layout for a socketAddress() (`\0name`: an
 * abstract socket), as bytes for connect(2) through FFI; null when it does
 * not fit its 108 bytes (transport.ts socketTooLong says why, for the
 * caller's error).
 */
export function sockaddrUn(address: string): Uint8Array | null {
  const name = new TextEncoder().encode(address);
  const abstract = name[0] === 0;
  // sa_family (u16), then the path: NUL-terminated, or for an abstract name the NUL first and no terminator.
  if (name.length > 107) return null;
  const addr = new Uint8Array(2 + name.length + (abstract ? 0 : 1));
  addr[0] = AF_UNIX;
  addr.set(name, 2);
  return addr;
}
