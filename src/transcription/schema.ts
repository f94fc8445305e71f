import { z } from 'zod';
import { ENGINE_NAMES } from '../config/index.js';
import { ISOLATION_MODES, transcriptSchema } from '../engines/index.js';

/** hark's own answer to a synchronous transcription. */
export const transcriptionResponseSchema = transcriptSchema.extend({
  id: z.string().describe('Request id; also on every log line of the request.'),
  engine: z.enum(ENGINE_NAMES),
  model: z.string().optional().describe('The engine\'s model that decoded (`whisper-base.en`), for engines with several; absent for the others.'),
  isolation: z.enum(ISOLATION_MODES),
  pid: z.number().int().describe('Process that decoded: the server in-process, a worker when isolated.'),
  processing_ms: z.number().describe('From upload received to transcript ready (decode + recognition).'),
});

export type TranscriptionResponse = z.infer<typeof transcriptionResponseSchema>;
