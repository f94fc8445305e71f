import { basename } from 'node:path';
import { postFile, type TranscriptionAnswer } from './http.js';

/**
 * The two fixed-mode routes: the engine inside the server, or in a pool worker.
 * Benches comparing the modes call these rather than `/transcriptions?isolation=`,
 * and check the answer's `isolation`, so a figure is always the mode it says.
 */
export type Mode = 'in-process' | 'process';

export const MODE_PATHS: Readonly<Record<Mode, string>> = {
  'in-process': '/transcriptions/sync',
  process: '/transcriptions/process-isolated',
};

/** Short labels for tables. */
export const MODE_LABELS: Readonly<Record<Mode, string>> = { 'in-process': 'in-process', process: 'isolated' };

/** POSTs one file to the mode's route; throws on anything but a 200 in that mode. */
export async function transcribeVia(baseUrl: string, mode: Mode, filePath: string): Promise<{ answer: TranscriptionAnswer; ms: number }> {
  const path = MODE_PATHS[mode];
  const res = await postFile(`${baseUrl}${path}`, filePath, { response_format: 'json' });
  if (res.status !== 200) throw new Error(`POST ${path} ${basename(filePath)}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  const answer = JSON.parse(res.body) as TranscriptionAnswer;
  if (answer.isolation !== mode) throw new Error(`POST ${path} ran ${String(answer.isolation)}, not ${mode}: the figures would not be what they say`);
  return { answer, ms: res.ms };
}
