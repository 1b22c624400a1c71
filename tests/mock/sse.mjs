// Server-sent events writer. Every frame is its own TCP write with a short pause in
// between, and every third frame (starting with the second) is split across two writes at
// its byte midpoint, so the gateway's SSE parser must cope with frames that arrive in
// pieces (possibly in the middle of a multi-byte UTF-8 character).
import { sleep } from './util.mjs';

export const dataFrame = (obj) => `data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`;
export const eventFrame = (type, obj) => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`;

export class SseWriter {
  constructor(res, { delayMs = 2, split = true } = {}) {
    this.res = res;
    this.delayMs = delayMs;
    this.split = split;
    this.count = 0;
    this.frames = []; // kept for the request log
  }

  get closed() {
    return this.res.destroyed || this.res.writableEnded;
  }

  start(status = 200, headers = {}) {
    this.res.writeHead(status, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      ...headers,
    });
    this.res.flushHeaders();
  }

  async pause() {
    if (this.delayMs > 0) await sleep(this.delayMs);
    else await new Promise((r) => setImmediate(r));
  }

  async write(frame, { split = this.split } = {}) {
    if (this.closed) return false;
    if (this.count > 0) await this.pause();
    const buf = Buffer.from(frame, 'utf8');
    const idx = this.count++;
    this.frames.push(frame);
    if (split && idx % 3 === 1 && buf.length > 1) {
      const mid = buf.length >> 1;
      this.res.write(buf.subarray(0, mid));
      await this.pause();
      if (this.closed) return false;
      this.res.write(buf.subarray(mid));
    } else {
      this.res.write(buf);
    }
    return true;
  }

  end() {
    if (!this.closed) this.res.end();
  }

  /** Cut the connection without a clean end of the chunked body. */
  destroy() {
    this.res.socket?.destroy();
  }
}
