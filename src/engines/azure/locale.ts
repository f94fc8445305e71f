import { AppError } from '../../errors.js';

/**
 * The locale Azure gets for a bare ISO 639-1 code: the one Microsoft lists
 * first (and, for the fast transcription API, supports) for that language.
 */
const DEFAULT_LOCALES: Readonly<Record<string, string>> = {
  ar: 'ar-SA', bg: 'bg-BG', ca: 'ca-ES', cs: 'cs-CZ', cy: 'cy-GB', da: 'da-DK', de: 'de-DE', el: 'el-GR', en: 'en-US', es: 'es-ES',
  et: 'et-EE', fa: 'fa-IR', fi: 'fi-FI', fr: 'fr-FR', ga: 'ga-IE', he: 'he-IL', hi: 'hi-IN', hr: 'hr-HR', hu: 'hu-HU', id: 'id-ID',
  it: 'it-IT', ja: 'ja-JP', ko: 'ko-KR', lt: 'lt-LT', lv: 'lv-LV', ms: 'ms-MY', nb: 'nb-NO', nl: 'nl-NL', no: 'nb-NO', pl: 'pl-PL',
  pt: 'pt-BR', ro: 'ro-RO', ru: 'ru-RU', sk: 'sk-SK', sl: 'sl-SI', sv: 'sv-SE', ta: 'ta-IN', te: 'te-IN', th: 'th-TH', tr: 'tr-TR',
  uk: 'uk-UA', vi: 'vi-VN', zh: 'zh-CN',
};

/**
 * Locales hark declares for Azure: the twelve the fast transcription API
 * documents (2024-11-15) and the default locale of each code above. Azure
 * knows more; any `xx-YY` locale is passed through and Azure has the last word.
 */
export const AZURE_LOCALES: readonly string[] = [
  ...new Set([
    'de-DE', 'en-IN', 'en-US', 'es-ES', 'es-MX', 'fr-FR', 'hi-IN', 'it-IT', 'ja-JP', 'ko-KR', 'pt-BR', 'zh-CN',
    'en-GB', 'en-AU', 'en-CA', 'fr-CA', 'pt-PT',
    ...Object.values(DEFAULT_LOCALES),
  ]),
].sort();

/** What a request asks for: one locale, or Azure's language identification (`auto`). */
export type LocaleChoice = { kind: 'locale'; locale: string } | { kind: 'auto' };

/**
 * `en` -> `en-US`, `en-gb` -> `en-GB`, `auto` -> language identification.
 * Unknown bare codes are a 400 here (hark cannot guess the region); full
 * locales go to Azure as they are.
 */
export function azureLocale(requested: string): LocaleChoice {
  const value = requested.trim().replaceAll('_', '-');
  if (value.toLowerCase() === 'auto') return { kind: 'auto' };
  const m = /^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|\d{3}))?$/i.exec(value);
  if (m !== null) {
    const [, lang = '', script, region] = m;
    if (region !== undefined) {
      const parts = [lang.toLowerCase(), script === undefined ? undefined : script[0]!.toUpperCase() + script.slice(1).toLowerCase(), region.toUpperCase()];
      return { kind: 'locale', locale: parts.filter((p) => p !== undefined).join('-') };
    }
    const known = script === undefined ? DEFAULT_LOCALES[lang.toLowerCase()] : undefined;
    if (known !== undefined) return { kind: 'locale', locale: known };
  }
  throw new AppError('UNSUPPORTED_LANGUAGE', `Azure Speech needs a locale such as en-US or a known language code such as en; "${requested}" is neither`, {
    details: { supported_languages: AZURE_LOCALES },
  });
}

/** `en-US` -> `en`: the language hark reports, as the other engines do. */
export function languageOf(locale: string): string {
  return (locale.split('-')[0] ?? locale).toLowerCase();
}
