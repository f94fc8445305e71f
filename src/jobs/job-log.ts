import { appendFileSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';

/**
 * A job's log file: one line per event (accepted, decode started, progress,
 * engine messages, result or error), each prefixed with an ISO time. Appends
 * are synchronous and small so lines never interleave or get lost on a crash.
 */
export class JobLog {
  constructor(readonly path: string) {}

  append(message: string): void {
    const line = `${new Date().toISOString()} ${message.replace(/[\r\n]+/g, ' ')}\n`;
    try {
      appendFileSync(this.path, line);
    } catch {
      // The job's folder was deleted (job removed): nothing left to log to.
    }
  }

  /** The last `n` lines (all when n is undefined). */
  async tail(n?: number): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return [];
    }
    const lines = text.split('\n').filter(Boolean);
    return n === undefined ? lines : lines.slice(-n);
  }

  /** Bytes from `offset` to the current end, for followers (SSE). */
  async readFrom(offset: number): Promise<{ text: string; next: number }> {
    try {
      const { size } = await stat(this.path);
      if (size <= offset) return { text: '', next: offset };
      const fh = await open(this.path, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        await fh.read(buf, 0, buf.length, offset);
        // Only whole lines: a follower must never see half of one.
        const end = buf.lastIndexOf(0x0a) + 1;
        return { text: buf.subarray(0, end).toString('utf8'), next: offset + end };
      } finally {
        await fh.close();
      }
    } catch {
      return { text: '', next: offset };
    }
  }
}
