import type { z } from 'zod';
import { jobViewSchema } from '../../src/http/routes/jobs.js';
import { waitFor } from './child-server.js';
import { postAudio } from './http.js';

export type JobView = z.infer<typeof jobViewSchema>;

export interface Accepted {
  job_id: string;
  status: string;
  links: Record<string, string>;
}

/** POST /api/v1/jobs with one file and text fields; expects 202 (or 200 for a repeated Idempotency-Key). */
export async function submitJob(baseUrl: string, path: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Accepted> {
  const res = await postAudio(`${baseUrl}/api/v1/jobs`, path, fields, { headers });
  if (res.status !== 202 && res.status !== 200) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Accepted;
}

/** GET /api/v1/jobs/:id, checked against the route's own schema. */
export async function getJob(baseUrl: string, id: string): Promise<JobView> {
  const res = await fetch(`${baseUrl}/api/v1/jobs/${id}`);
  if (res.status !== 200) throw new Error(`GET job ${id} answered ${res.status}: ${await res.text()}`);
  return jobViewSchema.parse(await res.json());
}

/** Polls a job until `done(job)` holds; returns the job at that moment. */
export async function waitForJob(baseUrl: string, id: string, done: (job: JobView) => boolean, timeoutMs = 60_000): Promise<JobView> {
  let last: JobView | undefined;
  await waitFor(async () => done((last = await getJob(baseUrl, id))), timeoutMs, 50);
  return last!;
}

export const isFinished = (j: JobView): boolean => j.status === 'completed' || j.status === 'failed' || j.status === 'cancelled';

/** Polls until the job has ended (completed, failed or cancelled). */
export function waitFinished(baseUrl: string, id: string, timeoutMs = 60_000): Promise<JobView> {
  return waitForJob(baseUrl, id, isFinished, timeoutMs);
}
