/**
 * Output formats, declared once. Dependency-free so that the web page (src/ui)
 * can import the values into its bundle without pulling server code along.
 */

/** Every format the OpenAI-compatible route speaks (OpenAI's names). */
export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json', 'diarized_json'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/**
 * hark's own formats: its transcription routes, a job's result, the CLI and the
 * page. No `verbose_json`, whose shape is OpenAI's.
 */
export const HARK_FORMATS = ['json', 'text', 'srt', 'vtt'] as const;
export type HarkFormat = (typeof HARK_FORMATS)[number];

/** The formats rendered as text (captions or plain), not JSON. */
export const TEXT_FORMATS = ['text', 'srt', 'vtt'] as const;
export type TextFormat = (typeof TEXT_FORMATS)[number];
