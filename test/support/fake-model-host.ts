import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the host misbehaves; each switch stays until changed with `set`. */
export interface FakeModelHostSwitches {
  /** Send this many body bytes, then drop the connection (the headers promise the full length). */
  cutAfterBytes?: number | undefined;
  /** Send this many body bytes, then send nothing more and keep the connection open. */
  stallAfterBytes?: number | undefined;
  /** Answer a Range request with 200 and the whole file, as some servers and proxies do. */
  ignoreRange?: boolean | undefined;
  /** Answer `/models/<file>` with a 302 to `/cdn/<file>`, as Hugging Face sends downloads to its CDN. */
  redirect?: boolean | undefined;
  /** Serve the file with some bytes changed (same length), as a broken mirror would. */
  corrupt?: boolean | undefined;
  /** Send the body in 64 KB pieces this far apart (a slow link, so a download's progress can be watched). */
  pieceDelayMs?: number | undefined;
}

/** One request the host received, with what it answered. */
export interface SeenRequest {
  method: string;
  path: string;
  range: string | undefined;
  status: number;
}

export interface FakeModelHost {
  /** The base URL to use as MODELS_BASE_URL (`http://127.0.0.1:<port>/models`). */
  baseUrl: string;
  requests: SeenRequest[];
  set(switches: FakeModelHostSwitches): void;
  close(): Promise<void>;
}

function corrupted(body: Buffer): Buffer {
  const copy = Buffer.from(body);
  for (let i = 1000; i < copy.length; i += 4096) copy[i] = (copy[i] ?? 0) ^ 0xff;
  return copy;
}

/** Writes `body` in 64 KB pieces `delayMs` apart; stops when the client goes. */
function slowly(res: ServerResponse, body: Buffer, delayMs: number, at = 0): void {
  if (res.destroyed) return;
  const next = Math.min(body.length, at + 65_536);
  if (next === body.length) return void res.end(body.subarray(at));
  res.write(body.subarray(at, next));
  setTimeout(() => slowly(res, body, delayMs, next), delayMs);
}

/**
 * A local stand-in for the Hugging Face file host: serves `files` (name -> bytes) at
 * `/models/<name>` with HTTP Range support (206 with Content-Range, 416 past the end),
 * following RFC 9110, on 127.0.0.1 and a free port.
 */
export async function startFakeModelHost(files: Record<string, Buffer>): Promise<FakeModelHost> {
  let switches: FakeModelHostSwitches = {};
  const requests: SeenRequest[] = [];
  const stalled = new Set<ServerResponse>();

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://host');
    const seen: SeenRequest = { method: req.method ?? '', path: url.pathname, range: req.headers.range, status: 0 };
    requests.push(seen);
    const answer = (status: number, headers: Record<string, string | number> = {}) => {
      seen.status = status;
      res.writeHead(status, headers);
    };
    const m = /^\/(models|cdn)\/([^/]+)$/.exec(url.pathname);
    const file = m ? files[m[2] ?? ''] : undefined;
    if (!m || file === undefined) return void (answer(404, { 'content-type': 'text/plain' }), res.end('Entry not found'));
    if (m[1] === 'models' && switches.redirect) return void (answer(302, { location: `/cdn/${m[2]}` }), res.end());

    const body = switches.corrupt ? corrupted(file) : file;
    const range = switches.ignoreRange ? undefined : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) return void (answer(416, { 'content-range': `bytes */${body.length}` }), res.end());
      answer(206, { 'content-type': 'application/octet-stream', 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'accept-ranges': 'bytes' });
    } else {
      answer(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'accept-ranges': 'bytes' });
    }
    if (req.method === 'HEAD') return void res.end();
    const rest = body.subarray(start);
    const { cutAfterBytes, stallAfterBytes } = switches;
    if (cutAfterBytes !== undefined) {
      // Give the client time to read what was sent before the connection drops.
      res.write(rest.subarray(0, cutAfterBytes), () => setTimeout(() => res.socket?.destroy(), 200));
      return;
    }
    if (stallAfterBytes !== undefined) {
      stalled.add(res);
      res.write(rest.subarray(0, stallAfterBytes));
      return;
    }
    if (switches.pieceDelayMs !== undefined) return void slowly(res, rest, switches.pieceDelayMs);
    res.end(rest);
  };

  const server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/models`,
    requests,
    set(next) {
      switches = { ...next };
    },
    async close() {
      for (const res of stalled) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
