import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import type { HarkFormat, JobStatus } from '../api/index.js';

/** A failed call to the server, printed as one line by the CLI. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface JobView {
  id: string;
  status: string;
  priority: string;
  progress: number;
  file_name: string;
  duration_seconds: number | null;
  attempts: number;
  created_at: string;
  error: { code: string; message: string } | null;
}

const TERMINAL = ['completed', 'failed', 'cancelled'];

/** A small client of hark's job API for the CLI. */
export class JobsClient {
  /** `apiKey`: sent as a Bearer token, for a server with AUTH_MODE=api_key. */
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey?: string | undefined,
  ) {}

  private get auth(): Record<string, string> {
    return this.apiKey === undefined || this.apiKey === '' ? {} : { authorization: `Bearer ${this.apiKey}` };
  }

  private async call<T>(path: string, init: RequestInit = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { ...init, headers: { ...this.auth, ...(init.headers as Record<string, string> | undefined) } });
    } catch (err) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach hark at ${this.baseUrl} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); is it running? (--url)`);
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new ApiError(res.status, body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? res.statusText);
    }
    return res.status === 204 ? (undefined as T) : ((res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as T) : ((await res.text()) as T));
  }

  async submit(file: string, fields: Record<string, string>): Promise<string> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', await openAsBlob(file), basename(file));
    const r = await this.call<{ job_id: string }>('/api/v1/jobs', { method: 'POST', body: form });
    return r.job_id;
  }

  get(id: string): Promise<JobView> {
    return this.call<JobView>(`/api/v1/jobs/${encodeURIComponent(id)}`);
  }

  list(status: JobStatus | undefined, limit: number): Promise<{ jobs: JobView[]; next_cursor: string | null }> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (status) q.set('status', status);
    return this.call(`/api/v1/jobs?${q}`);
  }

  result(id: string, format: HarkFormat): Promise<string | object> {
    return this.call(`/api/v1/jobs/${encodeURIComponent(id)}/result?format=${format}`);
  }

  cancel(id: string): Promise<JobView> {
    return this.call(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  async logs(id: string, tail: number | undefined): Promise<string[]> {
    const q = tail === undefined ? '' : `?tail=${tail}`;
    return (await this.call<{ lines: string[] }>(`/api/v1/jobs/${encodeURIComponent(id)}/logs${q}`)).lines;
  }

  /** Follows the SSE log stream, calling `onLine` per line; resolves with the final status. */
  async follow(id: string, onLine: (line: string) => void): Promise<string> {
    const res = await fetch(new URL(`/api/v1/jobs/${encodeURIComponent(id)}/logs/stream`, this.baseUrl), { headers: this.auth });
    if (!res.ok || res.body === null) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new ApiError(res.status, body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? res.statusText);
    }
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let idx;
      while ((idx = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const type = /^event: (.*)$/m.exec(event)?.[1];
        const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
        if (type === 'log') onLine(data);
        if (type === 'end') return (JSON.parse(data) as { status: string }).status;
      }
    }
    return (await this.get(id)).status;
  }

  /** Polls until every job has ended; returns their final views. */
  async waitAll(ids: string[], onChange?: (job: JobView) => void): Promise<JobView[]> {
    const last = new Map<string, string>();
    for (;;) {
      const views = await Promise.all(ids.map((id) => this.get(id)));
      for (const v of views) {
        const key = `${v.status}:${v.progress.toFixed(2)}`;
        if (last.get(v.id) !== key) {
          last.set(v.id, key);
          onChange?.(v);
        }
      }
      if (views.every((v) => TERMINAL.includes(v.status))) return views;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export function formatJobRow(j: JobView): string {
  const err = j.error ? ` ${j.error.code}` : '';
  const pct = j.status === 'running' ? ` ${(j.progress * 100).toFixed(0)}%` : '';
  return `${j.id}  ${j.status.padEnd(9)}${pct}${err}  ${j.priority.padEnd(6)}  ${j.created_at}  ${j.file_name}`;
}
