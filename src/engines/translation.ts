import { AppError } from '../errors.js';
import type { EngineCapabilities, TranscribeOptions } from './types.js';

/**
 * Refuses a translation the engine cannot give, before anything is decoded or
 * queued: an engine that does not translate (PocketSphinx, Azure) answers a
 * translation of English audio with its transcript, which is the translation,
 * and refuses one asked from another language (the caller's `language`). With
 * no language given, the audio is taken to be English, as those engines
 * transcribe nothing else.
 */
export function checkTranslation(engine: string, capabilities: EngineCapabilities, options: Pick<TranscribeOptions, 'task' | 'language'>): void {
  if (options.task !== 'translate' || capabilities.translates) return;
  const language = options.language?.trim().toLowerCase() ?? '';
  if (language === '' || language === 'en' || language.startsWith('en-') || language.startsWith('en_')) return;
  throw new AppError(
    'TRANSLATION_UNSUPPORTED',
    `the ${engine} engine does not translate: it answers English audio with its transcript, and language "${options.language}" asks for a translation into English; use an engine that translates (whisper with a multilingual model, or upstream)`,
  );
}
