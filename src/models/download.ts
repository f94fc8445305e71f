import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { AppError, isStorageFull } from '../errors.js';
import { diskSpace, fits, megabytes as mb } from '../os/index.js';
import type { CatalogueEntry } from './catalogue.js';

/** How far a download has come (bytes of the whole file, the resumed prefix included). */
export interface PullProgress {
  received: number;
  total: number;
  /** Bytes already on disk when this transfer started (they do not count towards speed). */
  resumedFrom: number;
  /** `performance.now()` when this transfer's first byte was asked for. */
  startedAt: number;
}

export interface PullOptions {
  /** The file's URL; redirects are followed (Hugging Face answers with a CDN address). */
  url: string;
  /** Final path; the download goes to `<dest>.part` first and is renamed once verified. */
  dest: string;
  expected: CatalogueEntry;
  /** Download again even when `dest` already exists and verifies. */
  force?: boolean;
  /** Aborting (Ctrl-C) stops the transfer and keeps the `.part` for the next run to resume. */
  signal?: AbortSignal;
  userAgent?: string;
  /** A transfer that receives nothing for this long is given up (the `.part` is kept). Default 60 s. */
  idleTimeoutMs?: number;
  onProgress?: (p: PullProgress) => void;
  /** One-line notes on what happens: resuming, a server that ignored the range, verifying. */
  onNote?: (message: string) => void;
}

export interface PullResult {
  status: 'downloaded' | 'already-installed';
  path: string;
  bytes: number;
  sha1: string;
  /** Bytes a previous, interrupted run had left in the `.part`, reused here. */
  resumedFrom: number;
}


async function sizeOf(path: string): Promise<number | null> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  return s === null ? null : s.size;
}

async function hashInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** SHA-1 of a whole file, streamed. */
export async function sha1File(path: string): Promise<string> {
  const hash = createHash('sha1');
  await hashInto(hash, path);
  return hash.digest('hex');
}

/** Why a file is not the catalogue's, or null when it is (length, then SHA-1 when one is known). */
export async function checkFile(path: string, expected: CatalogueEntry): Promise<{ problem: string | null; sha1: string; bytes: number }> {
  const bytes = (await stat(path)).size;
  const sha1 = await sha1File(path);
  if (bytes !== expected.bytes) return { problem: `it has ${bytes} bytes, not ${expected.bytes}`, sha1, bytes };
  if (expected.sha1 !== null && sha1 !== expected.sha1) return { problem: `its SHA-1 is ${sha1}, not ${expected.sha1}`, sha1, bytes };
  return { problem: null, sha1, bytes };
}

/** Throws INSUFFICIENT_STORAGE when `needed` bytes do not fit the file system holding `dest`. */
async function ensureRoom(dest: string, needed: number): Promise<void> {
  const space = await diskSpace(dirname(dest));
  if (fits(space, needed)) return;
  throw new AppError('INSUFFICIENT_STORAGE', `not enough disk space in ${dirname(dest)}: ${basename(dest)} needs ${mb(needed)} more, ${mb(space.available)} is free`, {
    details: { needed_bytes: needed, available_bytes: space.available },
  });
}

/**
 * Creates `dest`'s directory and throws INSUFFICIENT_STORAGE when its file
 * system cannot take the rest of the model (what a `.part` holds counts): a
 * pull is refused before it starts.
 */
export async function ensureRoomFor(dest: string, expected: CatalogueEntry): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const kept = (await sizeOf(`${dest}.part`)) ?? 0;
  // A .part longer than the model is started again from byte 0.
  await ensureRoom(dest, kept > expected.bytes ? expected.bytes : expected.bytes - kept);
}

function failed(message: string, reason: string, details: Record<string, unknown> = {}, cause?: unknown): AppError {
  return new AppError('UPSTREAM_ERROR', message, { details: { reason, ...details }, ...(cause === undefined ? {} : { cause }) });
}

/** `bytes a-b/total` of a 206 or `bytes * /total` of a 416. */
function parseContentRange(value: string | null): { start: number | null; total: number | null } {
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m) return { start: null, total: null };
  return { start: m[1] === undefined ? null : Number(m[1]), total: m[2] === '*' || m[2] === undefined ? null : Number(m[2]) };
}

function describeCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

type Transfer = { kind: 'done'; hash: Hash } | { kind: 'restart' };

/**
 * Downloads a catalogue model, resuming a `.part` an earlier run left, verifying length and SHA-1
 * (the resumed prefix included), then renaming it into place. A wrong file is deleted; an
 * interrupted one is kept for the next run.
 */
export async function pullModel(o: PullOptions): Promise<PullResult> {
  const name = basename(o.dest);
  const part = `${o.dest}.part`;
  await mkdir(dirname(o.dest), { recursive: true });

  if (!o.force && (await sizeOf(o.dest)) !== null) {
    o.onNote?.(`${name} is already there; verifying it`);
    const check = await checkFile(o.dest, o.expected);
    if (check.problem === null) return { status: 'already-installed', path: o.dest, bytes: check.bytes, sha1: check.sha1, resumedFrom: 0 };
    throw new AppError('INVALID_REQUEST', `${o.dest} exists but ${check.problem}; run with --force to download it again (it is replaced only once the new copy verifies)`, {
      details: { reason: 'existing_file_differs' },
    });
  }

  o.onNote?.(`downloading ${name} (${mb(o.expected.bytes)}) from ${o.url} to ${o.dest}`);
  let resumedFrom = 0;
  let restarts = 0;
  for (;;) {
    let offset = (await sizeOf(part)) ?? 0;
    if (offset > o.expected.bytes) {
      o.onNote?.(`${basename(part)} is longer than the model (${offset} > ${o.expected.bytes} bytes); starting again`);
      await rm(part, { force: true });
      offset = 0;
    }
    const outcome = await transfer(o, part, offset, (n) => (resumedFrom = n));
    if (outcome.kind === 'done') {
      const sha1 = outcome.hash.digest('hex');
      const bytes = (await sizeOf(part)) ?? 0;
      const problem =
        bytes !== o.expected.bytes
          ? `the download has ${bytes} bytes, not ${o.expected.bytes}`
          : o.expected.sha1 !== null && sha1 !== o.expected.sha1
            ? `its SHA-1 is ${sha1}, expected ${o.expected.sha1}`
            : null;
      if (problem !== null) {
        await rm(part, { force: true });
        throw failed(`${name} failed verification: ${problem}. The download was deleted; run the command again, and if it fails again the server (${new URL(o.url).origin}) is not serving the published file.`, 'checksum_mismatch', { expected_sha1: o.expected.sha1, actual_sha1: sha1, expected_bytes: o.expected.bytes, actual_bytes: bytes });
      }
      await rename(part, o.dest);
      return { status: 'downloaded', path: o.dest, bytes, sha1, resumedFrom };
    }
    // A restart is a fresh download from byte 0; a second one means the server keeps refusing.
    if (++restarts > 1) throw failed(`the server keeps refusing to resume ${name}; giving up`, 'range_refused');
  }
}

async function transfer(o: PullOptions, part: string, offset: number, setResumed: (n: number) => void): Promise<Transfer> {
  const name = basename(o.dest);
  const hash = createHash('sha1');
  // Nothing has verified the kept prefix: hashing it with the rest makes a damaged .part fail the final check.
  if (offset > 0) await hashInto(hash, part);
  if (offset === o.expected.bytes) {
    setResumed(offset);
    return { kind: 'done', hash };
  }

  await ensureRoom(o.dest, o.expected.bytes - offset);

  const idle = new AbortController();
  const idleMs = o.idleTimeoutMs ?? 60_000;
  let timer = setTimeout(() => idle.abort(), idleMs);
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), idleMs);
  };
  const signal = o.signal ? AbortSignal.any([o.signal, idle.signal]) : idle.signal;
  const startedAt = performance.now();
  const stopped = (received: number, err: unknown): AppError => {
    const kept = `${mb(received)} of ${mb(o.expected.bytes)} kept in ${part}; run the same command again to resume`;
    if (o.signal?.aborted) return new AppError('CANCELLED', `download stopped: ${kept}`, { details: { reason: 'cancelled', received } });
    if (isStorageFull(err)) return new AppError('INSUFFICIENT_STORAGE', `the disk holding ${dirname(o.dest)} filled up during the download: ${kept} once there is room`, { cause: err, details: { received } });
    if (idle.signal.aborted) return failed(`no data from the server for ${Math.round(idleMs / 1000)} s: ${kept}`, 'stalled', { received });
    return failed(`download of ${name} interrupted (${describeCause(err)}): ${kept}`, 'interrupted', { received }, err);
  };

  try {
    let res: Response;
    try {
      res = await fetch(o.url, {
        signal,
        redirect: 'follow',
        headers: {
          // Ranges count encoded bytes, so ask for the file as it is stored.
          'accept-encoding': 'identity',
          ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
          ...(o.userAgent ? { 'user-agent': o.userAgent } : {}),
        },
      });
    } catch (err) {
      if (o.signal?.aborted || idle.signal.aborted) throw stopped(offset, err);
      throw failed(`cannot reach ${new URL(o.url).origin} (${describeCause(err)}); check MODELS_BASE_URL and the network`, 'unreachable', {}, err);
    }
    poke();

    let append = false;
    let total: number | null = null;
    if (res.status === 206 && offset > 0) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (range.start !== offset) {
        await res.body?.cancel();
        o.onNote?.(`the server answered a different range (${res.headers.get('content-range') ?? 'none'}); starting again`);
        await rm(part, { force: true });
        return { kind: 'restart' };
      }
      append = true;
      total = range.total;
      setResumed(offset);
      o.onNote?.(`resuming ${name} at ${mb(offset)}`);
    } else if (res.status === 416 && offset > 0) {
      // The server's file is no longer than what we have: the .part belongs to another file.
      await res.body?.cancel();
      o.onNote?.(`the server cannot resume at ${mb(offset)} (416); starting again`);
      await rm(part, { force: true });
      return { kind: 'restart' };
    } else if (res.status === 200) {
      if (offset > 0) o.onNote?.('the server ignored the range request; downloading from the start');
      const length = res.headers.get('content-length');
      total = length === null ? null : Number(length);
      offset = 0;
    } else {
      await res.body?.cancel();
      const hint = res.status === 404 ? ` (no ${name} at MODELS_BASE_URL?)` : '';
      throw failed(`download of ${name} failed: HTTP ${res.status} ${res.statusText} from ${new URL(res.url || o.url).origin}${hint}`, 'http_status', { status: res.status });
    }
    if (total !== null && total !== o.expected.bytes) {
      await res.body?.cancel();
      await rm(part, { force: true });
      throw failed(`the server offers ${name} with ${total} bytes but the catalogue expects ${o.expected.bytes}; is MODELS_BASE_URL serving other files?`, 'size_mismatch', {
        expected_bytes: o.expected.bytes,
        actual_bytes: total,
      });
    }
    const whole = await write(o, part, res, append ? { offset, hash } : { offset: 0, hash: createHash('sha1') }, startedAt, poke, stopped);
    return { kind: 'done', hash: whole };
  } finally {
    clearTimeout(timer);
  }
}

/** Streams the body into the `.part` (appending after a resumed prefix); returns the hash of the whole file. */
async function write(
  o: PullOptions,
  part: string,
  res: Response,
  from: { offset: number; hash: Hash },
  startedAt: number,
  poke: () => void,
  stopped: (received: number, err: unknown) => AppError,
): Promise<Hash> {
  const { offset, hash } = from;
  const fh = await open(part, offset > 0 ? 'a' : 'w');
  let received = offset;
  let tooLong = false;
  try {
    if (res.body === null) throw new Error('empty response');
    for await (const chunk of res.body) {
      poke();
      if (received + chunk.length > o.expected.bytes) {
        tooLong = true;
        break;
      }
      received += chunk.length;
      hash.update(chunk);
      await fh.write(chunk);
      o.onProgress?.({ received, total: o.expected.bytes, resumedFrom: offset, startedAt });
    }
    // The bytes must be on disk before the rename makes the file look complete.
    await fh.sync();
  } catch (err) {
    throw stopped(received, err);
  } finally {
    await fh.close();
  }
  if (tooLong) {
    await rm(part, { force: true });
    throw failed(`the server sent more than the ${o.expected.bytes} bytes ${basename(o.dest)} has; the download was deleted`, 'size_mismatch');
  }
  if (received < o.expected.bytes) throw stopped(received, new Error(`the server closed the connection after ${received} bytes`));
  return hash;
}
