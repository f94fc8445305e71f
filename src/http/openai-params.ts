import { ENGINE_NAMES } from '../config/index.js';
import { checkTranslation, engineCapabilities, type EngineName } from '../engines/index.js';
import { AppError } from '../errors.js';

/**
 * What an engine does with a field: uses it, refuses it (400
 * UNSUPPORTED_PARAMETER naming it), or takes some values and refuses the others.
 */
export type Verdict = 'honoured' | 'refused' | 'partly';

export interface ParamCell {
  verdict: Verdict;
  /** How the field maps onto the engine or, refused, why: the docs' table cell and the refusal's reason. */
  how: string;
  /** `partly`: throws for a value the engine does not take. */
  check?: (value: string, engine: EngineName) => void;
}

/**
 * One form field of an OpenAI route and what each engine does with it: the one
 * list that both refuses what is not honoured and, rendered, is the table in
 * docs/api.md (test/openai-params.test.ts compares the two, and the field names
 * with the openai package's own types).
 */
export interface ParamRow {
  field: string;
  /** `openai`: in OpenAI's API; `hark`: hark's extension. */
  from: 'openai' | 'hark';
  /** Sent as `field[]` (what the openai client does for arrays); `field` alone is taken too. */
  list?: boolean;
  engines: Record<EngineName, ParamCell>;
}

const honoured = (how: string): ParamCell => ({ verdict: 'honoured', how });
const refused = (how: string): ParamCell => ({ verdict: 'refused', how });
const partly = (how: string, check: ParamCell['check']): ParamCell => ({ verdict: 'partly', how, check });
const everywhere = (cell: ParamCell): Record<EngineName, ParamCell> => ({ pocketsphinx: cell, whisper: cell, azure: cell, upstream: cell });

/** A value given, as every engine reads it: an empty field is no value (as a VAD field's is). */
const given = (values: readonly string[]): string[] => values.filter((v) => v.trim() !== '');

/**
 * Temperature 0 only: hark decodes deterministically on every engine and
 * forwards none upstream (whose default is 0), so any other value would be
 * ignored; OpenAI's 0 ("raise it when the log probabilities say so") is the
 * nearest hark has to it.
 */
function zeroTemperature(value: string, engine: EngineName): void {
  if (Number(value) === 0) return;
  throw unsupported('temperature', `the ${engine} engine decodes at temperature 0 only; send 0 or leave it out`, engine);
}

/** PocketSphinx's acoustic and language models are English: another language would be decoded as English. */
function englishOnly(value: string, engine: EngineName): void {
  if (/^en(?:[-_].*)?$/i.test(value.trim())) return;
  throw new AppError('UNSUPPORTED_LANGUAGE', `the ${engine} engine hears English only (language "en"), not ${JSON.stringify(value.slice(0, 16))}`, {
    details: { parameter: 'language', supported_languages: ['en'] },
  });
}

function unsupported(field: string, why: string, engine?: EngineName): AppError {
  return new AppError('UNSUPPORTED_PARAMETER', `${field} is not supported ${engine === undefined ? 'here' : `by the ${engine} engine`}: ${why}`, {
    details: { parameter: field, ...(engine === undefined ? {} : { engine }) },
  });
}

const FILE = { field: 'file', from: 'openai', engines: everywhere(honoured('any audio or video ffmpeg decodes')) } as const satisfies ParamRow;
const MODEL = {
  field: 'model',
  from: 'openai',
  engines: everywhere(honoured('an engine name, a whisper model id (`whisper-small.en`), or an OpenAI model name (`whisper-1`, `gpt-4o-transcribe`, ...) for the default engine: GET /v1/models lists them')),
} as const satisfies ParamRow;
const TEMPERATURE = { field: 'temperature', from: 'openai', engines: everywhere(partly('0 only (hark decodes at temperature 0); another value: 400', zeroTemperature)) } as const satisfies ParamRow;

/** `POST /v1/audio/transcriptions`: OpenAI's `TranscriptionCreateParams`, then hark's extensions. */
export const TRANSCRIPTION_PARAMS: readonly ParamRow[] = [
  FILE,
  MODEL,
  {
    field: 'chunking_strategy',
    from: 'openai',
    engines: everywhere(
      honoured("hark's VAD: `auto` is the server's settings; `server_vad`'s threshold, prefix_padding_ms (speech padding) and silence_duration_ms (shortest pause that cuts) override them"),
    ),
  },
  {
    field: 'include',
    from: 'openai',
    list: true,
    engines: {
      pocketsphinx: honoured('`logprobs`: one per word, the log of its posterior, with json (and on `transcript.text.done` when streamed)'),
      whisper: refused("whisper.cpp's Node binding gives no token probabilities"),
      azure: refused('Azure fast transcription gives no word confidences'),
      upstream: refused('hark asks the upstream for verbose_json, which has no log probabilities'),
    },
  },
  {
    field: 'known_speaker_names',
    from: 'openai',
    list: true,
    engines: everywhere(honoured("with diarized_json: names the diarizer's speaker whose voice matches the reference at the same place")),
  },
  { field: 'known_speaker_references', from: 'openai', list: true, engines: everywhere(honoured('with diarized_json: 2-10 s clips as data URLs, one per name')) },
  {
    field: 'language',
    from: 'openai',
    engines: {
      pocketsphinx: partly('`en` (or `en-*`) only; another: 400 UNSUPPORTED_LANGUAGE', englishOnly),
      whisper: honoured('an ISO 639-1 code or `auto`; one whisper does not know: 400 UNSUPPORTED_LANGUAGE'),
      azure: honoured('a locale, or a code mapped to one (`en` is `en-US`)'),
      upstream: honoured('forwarded'),
    },
  },
  {
    field: 'prompt',
    from: 'openai',
    engines: {
      pocketsphinx: refused('its decoder has a fixed language model and takes no prompt'),
      whisper: honoured("whisper.cpp's initial prompt, for every utterance"),
      azure: refused("Azure's REST transcription takes no prompt"),
      upstream: honoured("forwarded (without one, each utterance's prompt is the text before it)"),
    },
  },
  { field: 'response_format', from: 'openai', engines: everywhere(honoured("json, text, srt, vtt, verbose_json, diarized_json (hark's diarizer)")) },
  {
    field: 'stream',
    from: 'openai',
    engines: everywhere(honoured('`transcript.text.delta` per decoded segment, then `transcript.text.done` (json, text, diarized_json)')),
  },
  TEMPERATURE,
  {
    field: 'timestamp_granularities',
    from: 'openai',
    list: true,
    engines: everywhere(honoured('`word` and/or `segment`, with verbose_json only (another format: 400)')),
  },
  { field: 'num_speakers', from: 'hark', engines: everywhere(honoured('with diarized_json: exactly this many speakers')) },
  { field: 'min_speakers', from: 'hark', engines: everywhere(honoured('with diarized_json: at least this many speakers')) },
  { field: 'max_speakers', from: 'hark', engines: everywhere(honoured('with diarized_json: at most this many speakers')) },
];

/** A translation from a language other than English, refused by an engine that does not translate (src/engines/translation.ts). */
const untranslated = (value: string, engine: EngineName) => checkTranslation(engine, engineCapabilities(engine), { task: 'translate', language: value });

/** `POST /v1/audio/translations`: OpenAI's `TranslationCreateParams`, then hark's `language`. */
export const TRANSLATION_PARAMS: readonly ParamRow[] = [
  FILE,
  MODEL,
  {
    field: 'prompt',
    from: 'openai',
    engines: {
      pocketsphinx: refused('its decoder has a fixed language model and takes no prompt'),
      whisper: honoured("whisper.cpp's initial prompt (in English)"),
      azure: refused("Azure's REST transcription takes no prompt"),
      upstream: honoured('forwarded to its translations endpoint'),
    },
  },
  { field: 'response_format', from: 'openai', engines: everywhere(honoured('json, text, srt, vtt, verbose_json')) },
  TEMPERATURE,
  {
    field: 'language',
    from: 'hark',
    engines: {
      pocketsphinx: partly('English only, answered with its transcript; another: 400 TRANSLATION_UNSUPPORTED', untranslated),
      whisper: honoured("the language spoken (whisper's source language)"),
      azure: partly('English only, answered with its transcript; another: 400 TRANSLATION_UNSUPPORTED', untranslated),
      upstream: refused("the upstream's translations endpoint takes no language"),
    },
  },
];

/** The row a form field's name belongs to: `name`, `name[]`, or (chunking_strategy, an object) `name[key]`. */
function rowOf(rows: readonly ParamRow[], name: string): ParamRow | undefined {
  const bracket = name.indexOf('[');
  const base = bracket < 0 ? name : name.slice(0, bracket);
  const row = rows.find((r) => r.field === base);
  if (row === undefined || bracket < 0 || name === `${base}[]`) return row;
  return base === 'chunking_strategy' && /^chunking_strategy\[[^\]]*\]$/.test(name) ? row : undefined;
}

/**
 * Refuses, with 400 UNSUPPORTED_PARAMETER naming it, a form field the route
 * does not know (the field schemas would drop it without a word), before
 * anything else is read from the form.
 */
export function refuseUnknownParams(rows: readonly ParamRow[], fields: Readonly<Record<string, unknown>>): void {
  const unknown = Object.keys(fields).find((name) => rowOf(rows, name) === undefined);
  if (unknown === undefined) return;
  const shown = JSON.stringify(unknown.slice(0, 64));
  throw new AppError('UNSUPPORTED_PARAMETER', `unknown field ${shown}; this endpoint takes ${rows.map((r) => (r.list === true ? `${r.field}[]` : r.field)).join(', ')}`, {
    details: { parameter: unknown.slice(0, 64) },
  });
}

/**
 * Refuses a field `engine` does not honour (or a value of it the engine does
 * not take), as the rows say, before the request queues or decodes anything.
 * An empty field is no value.
 */
export function refuseUnsupportedParams(rows: readonly ParamRow[], engine: EngineName, fields: Readonly<Record<string, string | string[]>>): void {
  for (const [name, raw] of Object.entries(fields)) {
    const row = rowOf(rows, name);
    if (row === undefined) continue;
    const cell = row.engines[engine];
    const values = given(Array.isArray(raw) ? raw : [raw]);
    if (cell.verdict === 'honoured' || values.length === 0) continue;
    if (cell.verdict === 'refused') throw unsupported(row.list === true ? `${row.field}[]` : row.field, cell.how, engine);
    for (const value of values) cell.check?.(value, engine);
  }
}

/** A refusal of a field that comes only with certain response formats (as OpenAI's do). */
export function needsFormat(field: string, formats: readonly string[], got: string): AppError {
  return unsupported(field, `it comes with response_format ${formats.join(' or ')} only, not ${got}`);
}

/**
 * The rows as the Markdown table in docs/api.md: one line per field, a column
 * per engine with its verdict, and what the field does. Where the engines
 * differ, each engine's cell says how; where they agree, the last column does.
 */
export function paramsTable(rows: readonly ParamRow[]): string {
  const head = ['field', ...ENGINE_NAMES.map((e) => `\`${e}\``), 'how'];
  const lines = rows.map((r) => {
    const name = `\`${r.list === true ? `${r.field}[]` : r.field}\`${r.from === 'hark' ? ' (hark)' : ''}`;
    const cells = ENGINE_NAMES.map((e) => r.engines[e]);
    const same = cells.every((c) => c.verdict === cells[0]?.verdict && c.how === cells[0].how);
    return [name, ...cells.map((c) => (same ? c.verdict : `${c.verdict}: ${c.how}`)), same ? (cells[0]?.how ?? '') : ''];
  });
  return [head, head.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
