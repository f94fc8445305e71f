import { readFile } from 'node:fs/promises';

/** POSTs one audio file as multipart `file`. */
export async function postAudio(url: string, path: string, fields: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([await readFile(path)], { type: 'audio/wav' }), path.split('/').pop());
  return fetch(url, { method: 'POST', body: form, ...init });
}

export interface PoolView {
  enabled: boolean;
  size: number;
  ready_workers: number;
  degraded: boolean;
  workers: { slot: number; pid: number; state: string; tasks_done: number; rss_bytes: number | null; current_task: { id: string } | null }[];
  totals: { spawned: number; recycled: Record<'tasks' | 'rss' | 'timeout' | 'crash' | 'cancel', number>; crashed: number; timed_out: number; startup_failures: number };
}

export async function poolView(baseUrl: string): Promise<PoolView> {
  return (await (await fetch(`${baseUrl}/debug/pool`)).json()) as PoolView;
}
