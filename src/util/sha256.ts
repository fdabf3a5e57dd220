/** sha256 as hex, with Bun's hasher: node:crypto would cost the daemon ≈ 20 ms of cold start and ≈ 2 MB to load. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}
