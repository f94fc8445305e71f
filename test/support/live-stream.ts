import WebSocket from 'ws';

export interface LiveMessage {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/**
 * Streams 16 kHz s16le PCM over hark's `/v1/audio/stream`: the config, the
 * audio in `chunkBytes` frames `paceMs` apart (0: as fast as they are taken),
 * then `{"type":"end"}`. Resolves with every message and the close code.
 */
export async function streamPcm(
  baseUrl: string,
  pcm: Buffer,
  options: { query?: string; chunkBytes?: number; paceMs?: number } = {},
): Promise<{ messages: LiveMessage[]; closeCode: number }> {
  const { query = '', chunkBytes = 3200, paceMs = 0 } = options;
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/audio/stream${query}`);
  const messages: LiveMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as LiveMessage));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ encoding: 'pcm_s16le', sample_rate: 16_000 }));
  for (let off = 0; off < pcm.length && ws.readyState === WebSocket.OPEN; off += chunkBytes) {
    ws.send(pcm.subarray(off, off + chunkBytes));
    if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
  }
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'end' }));
  return { messages, closeCode: await closed };
}
