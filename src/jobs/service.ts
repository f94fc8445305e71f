import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { probeAudio, sniffAudio, tooLong } from '../audio/index.js';
import type { UsageMeter } from '../auth/usage.js';
import type { Config } from '../config/index.js';
import type { DiarizeRequest } from '../diarization/types.js';
import { checkTranslation, engineCapabilities, type Isolation, type ModelRef, type Transcript } from '../engines/index.js';
import { AppError } from '../errors.js';
import { parseOutboundAllow, type OutboundAllow } from '../net/index.js';
import type { Logger } from '../logger.js';
import type { JobRevisionStore, JobStore, ListJobsQuery } from '../store/index.js';
import type { TranscriptionService } from '../transcription/index.js';
import type { VadSettings } from '../vad/index.js';
import { formatLogLine, type JobLogs } from './job-log.js';
import { LogFollowers, type FollowEvent, type FollowOptions } from './log-follower.js';
import { isTerminal, type Job, type JobOptions, type Priority } from './model.js';
import type { JobRunner } from './runner.js';
import { checkSpeakerNames, speakerLabels } from './speaker-names.js';
import { applySegmentEdits, type SegmentEdit } from './transcript-edits.js';
import { zipArchive } from './zip.js';
import type { HarkFormat } from '../api/index.js';
import { renameSpeakers } from '../diarization/merge.js';
import { renderText } from '../transcription/formats.js';
import { checkCallbackTarget, checkCallbackUrl } from './webhooks.js';

/** What a submission is checked against: the engines and isolation modes this server runs. */
export type EngineChecks = Pick<TranscriptionService, 'resolve'>;

/** A submission as the client made it; `submit` resolves and checks the engine, mode and callback URL. */
export interface SubmitRequest {
  uploadPath: string;
  fileName: string;
  fileSize: number;
  priority: Priority;
  /** A model name or alias as the client gave it (default: ENGINE). */
  engine?: string | undefined;
  /** Default: the engine's mode (DEFAULT_ISOLATION, or with auto the engine's own). */
  isolation?: Isolation | undefined;
  options: JobOptions;
  /** The server's VAD settings with the request's overrides: stored with the job, so that every attempt runs with them. */
  vad: VadSettings;
  /** What the request asks of diarization (checked by the route): stored with the job like `vad`. Absent: none. */
  diarize?: DiarizeRequest | undefined;
  idempotencyKey: string | undefined;
  /** As the client gave it: only http(s), and only to a host OUTBOUND_ALLOW lets callbacks reach. */
  callbackUrl: string | undefined;
  /** The API key submitting it (AUTH_MODE=api_key). */
  apiKeyId?: string | undefined;
  /** The request's logger: why a callback URL was refused goes there, not to the client. */
  logger?: Pick<Logger, 'warn'> | undefined;
}

/** A job's VAD settings in its log. */
function vadText(vad: VadSettings): string {
  return vad.kind === 'off' ? 'VAD off' : `VAD ${vad.kind} (threshold ${vad.threshold}, min silence ${vad.minSilenceMs} ms, padding ${vad.speechPadMs} ms)`;
}

/** A job's diarization request in its log, in the API's field names. */
function diarizeText(d: DiarizeRequest): string {
  const counts = Object.entries({ num_speakers: d.numSpeakers, min_speakers: d.minSpeakers, max_speakers: d.maxSpeakers })
    .filter(([, n]) => n !== undefined)
    .map(([field, n]) => `${field} ${n}`);
  return counts.length === 0 ? 'diarize' : `diarize (${counts.join(', ')})`;
}

/**
 * Live log followers one API key may hold open on this instance. Each is an open
 * connection and a share of a poll of the store; a job's log needs one or two.
 */
export const KEY_MAX_LOG_FOLLOWERS = 8;

/** Opaque, URL-safe list position: created_at and id of the last job seen. */
export function encodeCursor(job: Pick<Job, 'createdAt' | 'id'>): string {
  return Buffer.from(`${job.createdAt}:${job.id}`).toString('base64url');
}

export function decodeCursor(raw: string): { createdAt: number; id: string } {
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const m = /^(\d{1,15}):([\w-]{1,64})$/.exec(text);
  if (m === null) throw new AppError('INVALID_CURSOR', 'cursor is not one this server gave out; start again without it');
  return { createdAt: Number(m[1]), id: m[2]! };
}

/**
 * Jobs as the API sees them: submit (validated, stored durably before the 202),
 * read, list, cancel, delete. Execution is the runner's.
 */
export class JobService {
  private readonly jobsDir: string;
  private readonly outboundAllow: OutboundAllow;
  private readonly followers: LogFollowers;
  /** Live log followers open per API key (KEY_MAX_LOG_FOLLOWERS). */
  private readonly followersByKey = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly store: JobStore,
    private readonly runner: JobRunner,
    private readonly logs: JobLogs,
    private readonly usage: UsageMeter,
    dataDir: string,
    private readonly engines: EngineChecks,
    private readonly revisions: JobRevisionStore,
  ) {
    this.jobsDir = join(dataDir, 'jobs');
    this.outboundAllow = parseOutboundAllow(config.OUTBOUND_ALLOW);
    this.followers = new LogFollowers({
      lines: (id, afterSeq, limit) => this.logLines(id, { afterSeq, limit }),
      status: async (id) => (await this.store.get(id))?.status,
    });
  }

  /**
   * Refuses at once (before the upload is read) when MAX_QUEUE_SIZE jobs are already waiting,
   * except for a retried submit: its Idempotency-Key names a job of the same API key, which it
   * gets back whatever the queue.
   */
  async checkCapacity(apiKeyId: string | undefined, idempotencyKey?: string): Promise<void> {
    if (idempotencyKey !== undefined && (await this.store.findByIdempotencyKey(apiKeyId ?? null, idempotencyKey)) !== undefined) return;
    const counts = await this.store.countByStatus();
    if (counts.queued >= this.config.MAX_QUEUE_SIZE) {
      throw new AppError('AT_CAPACITY', `${counts.queued} jobs are already waiting (MAX_QUEUE_SIZE=${this.config.MAX_QUEUE_SIZE}); retry later`, {
        details: { retry_after_seconds: 30 },
      });
    }
  }

  /**
   * KEY_MAX_ACTIVE_JOBS: one key may not hold more queued plus running jobs than this, nor
   * more than half of MAX_QUEUE_SIZE, so that one key never fills the queue every key
   * shares (the default, 100, is larger than the default queue, 32);
   * KEY_MAX_AUDIO_HOURS_PER_DAY: nor submit once its day's hours are used.
   */
  async checkKeyQuota(apiKeyId: string | undefined): Promise<void> {
    await this.usage.check(apiKeyId);
    const max = this.keyMaxActiveJobs();
    if (apiKeyId === undefined || max === 0) return;
    const active = await this.store.countActiveByApiKey(apiKeyId);
    if (active >= max) {
      const bound = max < this.config.KEY_MAX_ACTIVE_JOBS ? `half of the job queue, MAX_QUEUE_SIZE=${this.config.MAX_QUEUE_SIZE}` : `KEY_MAX_ACTIVE_JOBS=${max}`;
      throw new AppError('RATE_LIMITED', `this API key already has ${active} queued or running jobs, its share (${bound}); wait for one to end`, {
        details: { retry_after_seconds: 10, active_jobs: active, max_active_jobs: max },
      });
    }
  }

  /** A key's share of active jobs: KEY_MAX_ACTIVE_JOBS, at most half the queue's places (at least 1); 0 when the cap is off. */
  private keyMaxActiveJobs(): number {
    const { KEY_MAX_ACTIVE_JOBS: max, MAX_QUEUE_SIZE: queue } = this.config;
    return max === 0 ? 0 : Math.min(max, Math.max(1, Math.floor(queue / 2)));
  }

  /**
   * Checks the submission (engine, mode, callback URL: each refused with its own code), then
   * stores the job and moves the upload into its folder. A retried submit (same Idempotency-Key)
   * gets the first job back.
   */
  async submit(req: SubmitRequest): Promise<{ job: Job; created: boolean }> {
    const { engine, model, isolation, callbackUrl } = await this.checkSubmission(req);
    if (req.idempotencyKey !== undefined) {
      const existing = await this.store.findByIdempotencyKey(req.apiKeyId ?? null, req.idempotencyKey);
      if (existing !== undefined) return { job: existing, created: false };
    }
    // A WAV or FLAC header states its length (fast: no process); anything else gets
    // ffprobe, so junk and audio over MAX_AUDIO_SECONDS (a compressed bomb) are refused
    // now with the sync codes. Decoding proper (and an undecodable body) is the runner's.
    const sniffed = await sniffAudio(req.uploadPath, req.fileSize);
    const probe = sniffed?.durationSeconds === undefined ? await probeAudio(req.uploadPath) : undefined;
    const container = sniffed?.container ?? `${probe?.format}/${probe?.codec}`;
    const durationSeconds = sniffed?.durationSeconds ?? probe?.durationSeconds;
    if (durationSeconds !== undefined && durationSeconds > this.config.MAX_AUDIO_SECONDS) throw tooLong(durationSeconds, this.config.MAX_AUDIO_SECONDS);
    // Known length: refused now if it would pass the key's hours for today (counted when it completes).
    await this.usage.check(req.apiKeyId, durationSeconds);
    const id = randomUUID();
    const dir = join(this.jobsDir, id);
    await mkdir(dir, { recursive: true });
    const audioPath = join(dir, 'audio');
    try {
      await rename(req.uploadPath, audioPath);
      const job = await this.store.create({
        id,
        priority: req.priority,
        createdAt: Date.now(),
        fileName: req.fileName,
        fileSize: req.fileSize,
        durationSeconds: durationSeconds ?? null,
        audioPath,
        options: model === undefined ? req.options : { ...req.options, model },
        vad: req.vad,
        diarize: req.diarize ?? null,
        engine,
        isolation,
        idempotencyKey: req.idempotencyKey ?? null,
        callbackUrl: callbackUrl ?? null,
        apiKeyId: req.apiKeyId ?? null,
      });
      this.logs.append(id, `accepted: ${JSON.stringify(req.fileName)}, ${req.fileSize} bytes, ${container}, priority ${req.priority}, isolation ${isolation}, ${vadText(req.vad)}${req.diarize === undefined ? '' : `, ${diarizeText(req.diarize)}`}`);
      this.runner.tick();
      return { job, created: true };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      // Two submits with one key at once: the second insert loses and returns the first's job.
      if (req.idempotencyKey !== undefined) {
        const existing = await this.store.findByIdempotencyKey(req.apiKeyId ?? null, req.idempotencyKey);
        if (existing !== undefined) return { job: existing, created: false };
      }
      throw err;
    }
  }

  /** Jobs waiting in the store for a runner, by isolation mode (modes with none are absent). */
  queuedByIsolation(): Promise<Record<string, number>> {
    return this.store.countQueuedByIsolation();
  }

  async get(id: string): Promise<Job> {
    const job = await this.store.get(id);
    if (job === undefined) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
    return job;
  }

  /** A page of jobs (see ListJobsQuery); `cursor` as the previous page's `nextCursor` gave it. */
  async list(q: Omit<ListJobsQuery, 'cursor'> & { cursor?: string | undefined }): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    const limit = q.limit;
    const jobs = await this.store.list({ ...q, limit: limit + 1, cursor: q.cursor === undefined ? undefined : decodeCursor(q.cursor) });
    const page = jobs.slice(0, limit);
    return { jobs: page, nextCursor: jobs.length > limit ? encodeCursor(page[page.length - 1]!) : null };
  }

  async cancel(id: string): Promise<Job> {
    const before = await this.get(id);
    if (isTerminal(before.status)) throw new AppError('JOB_ALREADY_FINISHED', `job ${id} already ended (${before.status})`);
    const after = await this.store.cancel(id, Date.now());
    if (after === undefined) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
    if (after.status !== 'cancelled') throw new AppError('JOB_ALREADY_FINISHED', `job ${id} already ended (${after.status})`);
    this.logs.append(id, 'cancel requested');
    await this.logs.flush();
    // Running here: kill its worker now. Elsewhere: its instance sees the status at its next heartbeat.
    if (!this.runner.abort(id)) await this.runner.afterRun(id);
    return after;
  }

  /**
   * Names a completed job's speakers, replacing the names given before (`{}`
   * clears them). The stored result keeps its labels; every download applies the
   * names, so a rename can be changed or undone and never rewrites the transcript.
   */
  async setSpeakerNames(id: string, names: Readonly<Record<string, string>>): Promise<Job> {
    const job = await this.get(id);
    if (job.status !== 'completed' || job.result === null) throw new AppError('JOB_NOT_COMPLETED', `job ${id} is ${job.status}; its speakers can be named once it is completed`);
    const labels = speakerLabels(job.result);
    if (labels.length === 0) throw new AppError('NO_SPEAKERS', `job ${id}'s result has no speakers to name (submit it with diarize=true)`);
    const checked = checkSpeakerNames(names, labels);
    // Completed is final: only a delete in between can miss.
    if (!(await this.store.setSpeakerNames(id, checked))) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
    return { ...job, speakerNames: checked };
  }

  /**
   * Stores an edit of a completed job's transcript as its next revision (the
   * original is kept as revision 0): `base` is the revision the edit was made
   * on, and an edit whose base another edit has replaced is refused (409
   * REVISION_CONFLICT) rather than overwriting it.
   */
  async editTranscript(id: string, base: number, edits: readonly SegmentEdit[], apiKeyId: string | undefined): Promise<{ revision: number; createdAt: number; result: Transcript }> {
    const current = await this.transcript(id, 'latest');
    if (base !== current.revision) {
      throw new AppError('REVISION_CONFLICT', `job ${id}'s transcript is at revision ${current.revision}, not ${base}: read it again and edit that`, {
        details: { latest_revision: current.revision },
      });
    }
    const result = applySegmentEdits(current.result, edits);
    const createdAt = Date.now();
    if (!(await this.revisions.add(id, base, { createdAt, apiKeyId: apiKeyId ?? null, result }))) {
      throw new AppError('REVISION_CONFLICT', `another edit of job ${id}'s revision ${base} came first: read the transcript again and edit that`);
    }
    return { revision: base + 1, createdAt, result };
  }

  /** A completed job's transcript: the latest edit (`latest`), the engine's own (`original`, revision 0), or revision `n`. */
  async transcript(id: string, which: 'latest' | 'original' | number): Promise<{ job: Job; revision: number; result: Transcript }> {
    const job = await this.get(id);
    if (job.status !== 'completed' || job.result === null) {
      throw new AppError('JOB_NOT_COMPLETED', `job ${job.id} is ${job.status}${job.errorCode ? ` (${job.errorCode})` : ''}; a result exists once it is completed`);
    }
    if (which === 'original' || which === 0) return { job, revision: 0, result: job.result };
    const edit = which === 'latest' ? await this.revisions.latest(id) : await this.revisions.get(id, which);
    if (edit === undefined && which !== 'latest') throw new AppError('NOT_FOUND', `job ${id} has no revision ${which}`);
    return edit === undefined ? { job, revision: 0, result: job.result } : { job, revision: edit.revision, result: edit.result };
  }

  /** The edits of a job's transcript, oldest first (revision 0, the original, is not listed). */
  async transcriptRevisions(id: string): Promise<{ revision: number; createdAt: number }[]> {
    await this.get(id);
    return (await this.revisions.list(id)).map((r) => ({ revision: r.revision, createdAt: r.createdAt }));
  }

  /**
   * Runs a finished job again as a new job with the same settings (engine, mode, priority,
   * options, VAD, diarization, callback URL) on a copy of its audio, which only
   * KEEP_JOB_AUDIO keeps (410 JOB_AUDIO_GONE without it). The original stays as it is.
   * `copyPath`: a scratch path for the copy (moved into the new job's folder, as an upload is);
   * `fallbackVad`: for jobs stored before they carried their VAD settings.
   */
  async retry(id: string, req: Pick<SubmitRequest, 'apiKeyId' | 'logger'> & { copyPath: string; fallbackVad: VadSettings }): Promise<Job> {
    const job = await this.get(id);
    if (!isTerminal(job.status)) throw new AppError('JOB_NOT_FINISHED', `job ${id} is ${job.status}; it can be run again once it has ended`);
    const gone = new AppError('JOB_AUDIO_GONE', `the audio of job ${id} was deleted when it ended (KEEP_JOB_AUDIO=false); upload the file again`);
    if (job.audioPath === null) throw gone;
    await copyFile(job.audioPath, req.copyPath).catch((err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? gone : err;
    });
    const { job: next } = await this.submit({
      uploadPath: req.copyPath,
      fileName: job.fileName,
      fileSize: job.fileSize,
      priority: job.priority,
      engine: job.engine,
      isolation: job.isolation,
      options: job.options,
      vad: job.vad ?? req.fallbackVad,
      diarize: job.diarize ?? undefined,
      idempotencyKey: undefined,
      callbackUrl: job.callbackUrl ?? undefined,
      apiKeyId: req.apiKeyId,
      logger: req.logger,
    });
    this.logs.append(next.id, `a new run of job ${id} (${job.status})`);
    return next;
  }

  async remove(id: string): Promise<void> {
    const job = await this.get(id);
    if (!isTerminal(job.status)) throw new AppError('JOB_NOT_FINISHED', `job ${id} is ${job.status}; cancel it first`);
    await this.store.delete(id);
    await rm(join(this.jobsDir, id), { recursive: true, force: true });
    if (job.audioPath) await rm(job.audioPath, { force: true });
  }

  /** Gives a job another file name: 1-255 characters on one line, no `/` or `\\` (it names downloads). */
  async rename(id: string, fileName: string): Promise<Job> {
    const name = fileName.trim();
    if (name === '' || name.length > 255 || /[\p{Cc}/\\]/u.test(name)) {
      throw new AppError('INVALID_REQUEST', 'file_name must be 1-255 characters on one line, without / or \\');
    }
    if (!(await this.store.rename(id, name))) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
    return { ...(await this.get(id)), fileName: name };
  }

  /**
   * Deletes each of `ids` that has ended, as DELETE /api/v1/jobs/{id} would; the others are
   * listed with the code that kept them (JOB_NOT_FOUND, JOB_NOT_FINISHED), and the rest still go.
   * `visible`: whether the caller may see a job (another key's is JOB_NOT_FOUND).
   */
  async removeMany(ids: readonly string[], visible: (job: Job) => boolean): Promise<{ deleted: string[]; kept: { id: string; code: string; message: string }[] }> {
    const deleted: string[] = [];
    const kept: { id: string; code: string; message: string }[] = [];
    for (const id of new Set(ids)) {
      try {
        const job = await this.get(id);
        if (!visible(job)) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
        await this.remove(id);
        deleted.push(id);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        kept.push({ id, code: err.code, message: err.message });
      }
    }
    return { deleted, kept };
  }

  /**
   * The transcripts of completed jobs as a ZIP archive, one file per job in `format` (its latest
   * revision, speakers named), named after the job's file. Refused whole when one is not
   * visible (JOB_NOT_FOUND) or not completed (JOB_NOT_COMPLETED, naming them all).
   */
  async exportTranscripts(ids: readonly string[], format: HarkFormat, visible: (job: Job) => boolean): Promise<Buffer> {
    const found = [];
    for (const id of new Set(ids)) {
      const job = await this.get(id).catch(() => undefined);
      if (job === undefined || !visible(job)) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
      found.push(job);
    }
    const unfinished = found.filter((j) => j.status !== 'completed');
    if (unfinished.length > 0) {
      throw new AppError('JOB_NOT_COMPLETED', `only completed jobs have transcripts: ${unfinished.map((j) => `${j.id} is ${j.status}`).join(', ')}`, {
        details: { job_ids: unfinished.map((j) => j.id) },
      });
    }
    const names = new Set<string>();
    const entries = [];
    for (const job of found) {
      const { result } = await this.transcript(job.id, 'latest');
      const named = Object.keys(job.speakerNames).length > 0 ? renameSpeakers(result, job.speakerNames) : result;
      const body = format === 'json' ? `${JSON.stringify({ id: job.id, file_name: job.fileName, ...named }, null, 2)}\n` : renderText(format, named);
      entries.push({ name: exportName(job, format, names), data: Buffer.from(body, 'utf8'), modified: new Date(job.finishedAt ?? job.createdAt) });
    }
    return zipArchive(entries);
  }

  /** A job's log lines as the API shows them, with their seq (a follower's position). */
  async logLines(id: string, query: { afterSeq?: number | undefined; tail?: number | undefined; limit?: number | undefined } = {}): Promise<{ seq: number; text: string }[]> {
    return (await this.logs.read(id, query)).map((l) => ({ seq: l.seq, text: formatLogLine(l) }));
  }

  /**
   * Follows a job's log as it is written, by any instance: its lines (from `afterSeq` on),
   * then one end event with the final status. Followers of one job share one poll of the store.
   */
  followLog(id: string, options: FollowOptions = {}): AsyncIterableIterator<FollowEvent> {
    return this.followers.follow(id, options);
  }

  /**
   * Takes one of the key's KEY_MAX_LOG_FOLLOWERS places for a live log follower
   * (429 RATE_LIMITED when none is left); the returned function gives it back (once).
   * Without a key there is nothing to count per key.
   */
  takeFollowerPlace(apiKeyId: string | undefined): () => void {
    if (apiKeyId === undefined) return () => undefined;
    const open = this.followersByKey.get(apiKeyId) ?? 0;
    if (open >= KEY_MAX_LOG_FOLLOWERS) {
      throw new AppError('RATE_LIMITED', `this API key already follows ${open} job logs live, the most it may at once; close one first`, {
        details: { retry_after_seconds: 5, open_followers: open, max_followers: KEY_MAX_LOG_FOLLOWERS },
      });
    }
    this.followersByKey.set(apiKeyId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.followersByKey.get(apiKeyId) ?? 1) - 1;
      if (left > 0) this.followersByKey.set(apiKeyId, left);
      else this.followersByKey.delete(apiKeyId);
    };
  }

  /** The engine and mode the job will run with, and its callback URL, or the AppError that refuses them. */
  private async checkSubmission(req: SubmitRequest): Promise<ModelRef & { isolation: Isolation; callbackUrl: string | undefined }> {
    // No place in line is taken: the job waits in the store, and the runner plans when it claims it.
    const { engine, model, isolation } = this.engines.resolve({ engine: req.engine, isolation: req.isolation });
    checkTranslation(engine, engineCapabilities(engine), req.options);
    const callbackUrl = req.callbackUrl === undefined ? undefined : await checkCallbackTarget(checkCallbackUrl(req.callbackUrl), this.outboundAllow, req.logger);
    return { engine, model, isolation, callbackUrl };
  }
}

/** `meeting.wav` -> `meeting.srt`; a second `meeting` gets the job id's first 8 characters too. */
function exportName(job: Job, format: HarkFormat, taken: Set<string>): string {
  const ext = format === 'text' ? 'txt' : format;
  const stem = job.fileName.replace(/\.[^.]{1,8}$/, '').replace(/[\p{Cc}/\\]/gu, '_') || 'transcript';
  let name = `${stem}.${ext}`;
  if (taken.has(name)) name = `${stem}-${job.id.slice(0, 8)}.${ext}`;
  taken.add(name);
  return name;
}
