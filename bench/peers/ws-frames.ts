/**
 * Reads the server-to-client half of a WebSocket connection as it crosses the relay and notes when each data
 * message ends (its final frame's last byte), skipping the HTTP upgrade response, control frames and keepalive
 * messages: pings a server sends every connection on a timer would otherwise pass for the copy of a write.
 */
export class MessageEnds {
  /** When each data message's last byte crossed, in order. */
  readonly ends: number[] = [];
  private upgraded = false;
  private head = Buffer.alloc(0);
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  private control = false;
  private fin = false;
  /** The current message's first bytes, as many as the keepalive prefix has. */
  private start = Buffer.alloc(0);

  /** `keepalive`: how a server's keepalive data message begins (Jazz sends `{"type":"ping"` as a text message). */
  constructor(private readonly keepalive = Buffer.alloc(0)) {}

  push(chunk: Buffer, at: number): void {
    let d = chunk;
    if (!this.upgraded) {
      this.head = Buffer.concat([this.head, d]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.upgraded = true;
      d = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
    }
    while (d.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, d.length);
        if (!this.control && this.start.length < this.keepalive.length) this.start = Buffer.concat([this.start, d.subarray(0, Math.min(take, this.keepalive.length - this.start.length))]);
        this.remaining -= take;
        d = d.subarray(take);
        if (this.remaining === 0) this.frameEnd(at);
        continue;
      }
      this.head = Buffer.concat([this.head, d]);
      const frame = header(this.head);
      if (!frame) return;
      d = this.head.subarray(frame.size);
      this.head = Buffer.alloc(0);
      // Opcodes 8 and up are control frames (close, ping, pong), which may come between a message's frames.
      this.control = frame.opcode >= 8;
      this.fin = frame.fin;
      this.remaining = frame.length;
      if (this.remaining === 0) this.frameEnd(at);
    }
  }

  private frameEnd(at: number): void {
    if (this.control || !this.fin) return;
    const keepalive = this.keepalive.length > 0 && this.start.equals(this.keepalive);
    this.start = Buffer.alloc(0);
    if (!keepalive) this.ends.push(at);
  }
}

/** A server frame's header (unmasked), or undefined while it has not all arrived. */
function header(b: Buffer): { fin: boolean; opcode: number; length: number; size: number } | undefined {
  if (b.length < 2) return undefined;
  const fin = (b[0]! & 0x80) !== 0;
  const opcode = b[0]! & 0x0f;
  const short = b[1]! & 0x7f;
  if (short < 126) return { fin, opcode, length: short, size: 2 };
  if (short === 126) return b.length < 4 ? undefined : { fin, opcode, length: b.readUInt16BE(2), size: 4 };
  return b.length < 10 ? undefined : { fin, opcode, length: Number(b.readBigUInt64BE(2)), size: 10 };
}
