import { afterEach, expect, it } from 'vitest';
import { spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';

let server: ChildServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const short = clip('1089-134686-0001').path;

it('writes JSON logs with the request id on every line of a request, and the client\'s X-Request-Id beside it', async () => {
  server = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false' });
  const res = await postAudio(`${server.url}/transcriptions`, short, {}, { headers: { 'x-request-id': 'req-logs-1' } });
  expect(res.status).toBe(200);
  // The id is the server's own (a client could otherwise pose as another request); the client's is kept as clientRequestId.
  const id = res.headers.get('x-request-id')!;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  await waitFor(() => server!.logs.some((l) => l.includes('request completed') && l.includes(id)));
  const lines = server.logs.map((l) => JSON.parse(l) as { requestId?: string; clientRequestId?: string; msg: string; level: number });
  expect(lines.filter((l) => l.requestId === id).every((l) => l.clientRequestId === 'req-logs-1')).toBe(true);
  const mine = lines.filter((l) => l.requestId === id).map((l) => l.msg);
  expect(mine).toEqual(expect.arrayContaining(['incoming request', 'transcription accepted', 'transcription done', 'request completed']));
  // Every line logged while handling a request carries its id.
  const requestLines = lines.filter((l) => ['incoming request', 'transcription accepted', 'transcription done', 'request completed'].includes(l.msg));
  expect(requestLines.every((l) => typeof l.requestId === 'string')).toBe(true);
});

it('respects LOG_LEVEL', async () => {
  server = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false', LOG_LEVEL: 'warn' });
  expect((await postAudio(`${server.url}/transcriptions`, short)).status).toBe(200);
  expect(server.logs.filter((l) => l.includes('"level":30'))).toEqual([]);
});
