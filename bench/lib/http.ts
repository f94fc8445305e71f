import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface PostResult {
  status: number;
  body: string;
  /** Client wall time: first byte sent to last byte received. */
  ms: number;
}

/**
 * POSTs one file as multipart/form-data, streamed from disk (an hour of WAV is
 * 115 MB). node:http rather than fetch: undici's fetch gives up after 300 s
 * without response headers, and a long file takes longer than that.
 */
export async function postFile(url: string, filePath: string, fields: Record<string, string> = {}): Promise<PostResult> {
  const boundary = `----hark-bench-${randomUUID()}`;
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(filePath)}"\r\nContent-Type: audio/wav\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const { size } = await stat(filePath);
  const length = Buffer.byteLength(head) + size + Buffer.byteLength(tail);

  const started = performance.now();
  return new Promise<PostResult>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
    });
    req.write(head);
    pipeline(createReadStream(filePath), req, { end: false })
      .then(() => req.end(tail))
      .catch(reject);
  });
}

/** A transcription answer as far as the benches read it (see src/transcription/schema.ts). */
export interface TranscriptionAnswer {
  text: string;
  duration_seconds: number;
  processing_ms: number;
  isolation?: string;
  pid?: number;
  words: { start: number; end: number; word: string }[];
}

/**
 * The benches measure the engine inside the server. The query pins that mode
 * where the server also has a process-isolated pool (servers without one
 * ignore it), and the answer's `isolation` is checked, so a changed default
 * cannot quietly turn these figures into worker-pool figures.
 */
export const TRANSCRIBE_PATH = '/transcriptions?isolation=in-process';

/** POSTs to /transcriptions (in-process) and returns the parsed answer, or throws with the server's error body. */
export async function transcribeOverHttp(baseUrl: string, filePath: string): Promise<{ answer: TranscriptionAnswer; ms: number }> {
  const res = await postFile(`${baseUrl}${TRANSCRIBE_PATH}`, filePath, { response_format: 'json' });
  if (res.status !== 200) throw new Error(`POST ${TRANSCRIBE_PATH} ${basename(filePath)}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  const answer = JSON.parse(res.body) as TranscriptionAnswer;
  if (answer.isolation !== undefined && answer.isolation !== 'in-process') {
    throw new Error(`POST ${TRANSCRIBE_PATH} ran ${answer.isolation}, not in-process: the figures would not be what they say`);
  }
  return { answer, ms: res.ms };
}
