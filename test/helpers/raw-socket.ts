import type { Socket } from "bun";
import type { Response } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { FrameDecoder, MAX_RESPONSE_FRAME, decodeResponse } from "../../src/protocol/index.ts";

/** A bare socket to the daemon: send any bytes, collect decoded responses, see when it closes. */
export class RawSocket {
  readonly responses: Response[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
  private socket!: Socket<undefined>;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  private constructor() {
    this.closedPromise = new Promise((r) => (this.markClosed = r));
  }

  static async connect(path: string): Promise<RawSocket> {
    const raw = new RawSocket();
    raw.socket = await Bun.connect({
      unix: path,
      socket: {
        data: (_s, chunk) => {
          for (const frame of raw.decoder.push(chunk)) raw.responses.push(decodeResponse(frame));
        },
        close: () => {
          raw.closed = true;
          raw.markClosed();
        },
        error: () => {},
      },
    });
    return raw;
  }

  write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      const n = this.socket.write(bytes.subarray(offset));
      if (n <= 0) break;
      offset += n;
    }
  }

  end(): void {
    this.socket.end();
  }

  /** Resolves true when the daemon closed the connection within `ms`. */
  async waitClosed(ms: number): Promise<boolean> {
    return Promise.race([this.closedPromise.then(() => true), Bun.sleep(ms).then(() => false)]);
  }
}
