import type { Socket } from "bun";
import type { Response } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { decodeResponse, encodeRequestFrame, FrameDecoder, MAX_RESPONSE_FRAME, type RequestKindInit } from "../../src/protocol/index.ts";

/**
 * A minimal pipelining client on a raw socket, for load tests: it picks the
 * ids itself and checks that every response names a request still in flight
 * (a stray or duplicated id is recorded in `mismatches`).
 */
export class WireClient {
  readonly mismatches: string[] = [];
  private readonly decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
  private readonly pending = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private socket!: Socket<undefined>;
  private out: Uint8Array[] = [];
  closed = false;

  static async connect(path: string): Promise<WireClient> {
    const c = new WireClient();
    c.socket = await Bun.connect({
      unix: path,
      socket: {
        data: (_s, chunk) => {
          for (const frame of c.decoder.push(chunk)) c.onResponse(decodeResponse(frame));
        },
        drain: () => c.flush(),
        close: () => {
          c.closed = true;
          for (const p of c.pending.values()) p.reject(new Error("connection closed"));
          c.pending.clear();
        },
        error: () => {},
      },
    });
    return c;
  }

  request(kind: RequestKindInit): Promise<Response> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("connection closed"));
      this.pending.set(id, { resolve, reject });
      this.out.push(encodeRequestFrame({ id: id, kind: kind }));
      this.flush();
    });
  }

  close(): void {
    this.socket.end();
  }

  private flush(): void {
    while (this.out.length > 0) {
      const buf = this.out[0]!;
      const n = this.socket.write(buf, 0, buf.length);
      if (n <= 0) return;
      if (n < buf.length) {
        this.out[0] = buf.subarray(n);
        return;
      }
      this.out.shift();
    }
  }

  private onResponse(r: Response): void {
    const p = this.pending.get(r.id);
    if (!p) {
      this.mismatches.push(`response id ${r.id} (${r.kind.case}) matches no request in flight`);
      return;
    }
    this.pending.delete(r.id);
    p.resolve(r);
  }
}
