import type { SystemInfo } from '../api.js';
import type { ModelView } from '../models-api.js';
import { href } from '../router.js';

/** What the user picked; `''` everywhere is the server's own default. */
export interface EngineChoice {
  engine: string;
  /** A whisper model id (`whisper-base.en`), only with the whisper engine. */
  model: string;
  /** ISO 639-1 code (a locale for Azure). */
  language: string;
}

export const NO_CHOICE: EngineChoice = { engine: '', model: '', language: '' };

const WHISPER_PREFIX = 'whisper-';

/** A model that can run now; a list without states (no model registry) offers every entry. */
const usable = (m: ModelView) => m.state === undefined || m.state === 'available' || m.state === 'loaded';

const STATE_NOTES: Partial<Record<NonNullable<ModelView['state']>, string>> = {
  not_downloaded: ' (not downloaded)',
  downloading: ' (downloading)',
  failed: ' (failed to load)',
  loaded: ' (loaded)',
};

/** Offered when the server names no languages (an older server): the most asked for. */
const COMMON_LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'ru', 'ja', 'zh'];

const displayNames = new Intl.DisplayNames(undefined, { type: 'language' });

function languageName(code: string): string {
  try {
    return displayNames.of(code) ?? code;
  } catch {
    // Not a tag Intl knows (whisper's `haw` is, `jw` is not): the code alone says it.
    return code;
  }
}

/** The engines and whisper models the pickers offer, from GET /v1/models (aliases left out). */
export interface Offer {
  engines: ModelView[];
  whisperModels: ModelView[];
  defaultEngine: string;
}

/**
 * Splits /v1/models into engines and whisper models. OpenAI's names (`alias_of`) stand for the
 * default engine and are left out; without the list (a key that may not read it, an older
 * server), the engines come from /api/v1/system.
 */
export function offerOf(models: readonly ModelView[] | undefined, info: SystemInfo | undefined): Offer {
  const own = (models ?? []).filter((m) => m.alias_of === undefined);
  const fromSystem = (info?.engines ?? []).map((e): ModelView => ({ id: e.name, object: 'model', created: 0, owned_by: 'hark' }));
  const engines = own.filter((m) => !m.id.startsWith(WHISPER_PREFIX));
  return {
    engines: engines.length > 0 ? engines : fromSystem,
    whisperModels: own.filter((m) => m.id.startsWith(WHISPER_PREFIX)),
    defaultEngine: info?.engine ?? engines.find((m) => m.default === true)?.id ?? '',
  };
}

/** The engine a request with `choice` runs on. */
const engineOf = (choice: EngineChoice, offer: Offer) => choice.engine || offer.defaultEngine;

/** The whisper model a request with `choice` runs on (the default one unless picked); `''` for other engines. */
function modelOf(choice: EngineChoice, offer: Offer): string {
  if (choice.model !== '') return choice.model;
  return engineOf(choice, offer) === 'whisper' ? (offer.whisperModels.find((m) => m.default === true)?.id ?? '') : '';
}

/** What the request names as `engine`: the model when one is picked, else an engine other than the default. */
export function engineField(choice: EngineChoice, offer: Offer): string | undefined {
  if (choice.model !== '') return choice.model;
  return choice.engine !== '' && choice.engine !== offer.defaultEngine ? choice.engine : undefined;
}

/** The languages `choice` can be asked in, or undefined when the server does not say. */
export function languagesOf(choice: EngineChoice, offer: Offer, info: SystemInfo | undefined): readonly string[] | undefined {
  // whisper's `.en` models know only English.
  if (modelOf(choice, offer).endsWith('.en')) return ['en'];
  return info?.engines?.find((e) => e.name === engineOf(choice, offer))?.languages;
}

/** Why the typed language cannot be sent, or undefined when it can. */
export function languageProblem(choice: EngineChoice, offer: Offer, info: SystemInfo | undefined): string | undefined {
  const languages = languagesOf(choice, offer, info);
  const code = choice.language.trim();
  if (code === '' || languages === undefined || languages.length <= 1) return undefined;
  const known = languages.some((l) => l.toLowerCase() === code.toLowerCase() || l.toLowerCase() === code.toLowerCase().split(/[-_]/)[0]);
  return known || code.toLowerCase() === 'auto' ? undefined : `${engineOf(choice, offer)} does not know the language “${code}”: pick one from the list.`;
}

/**
 * The engine, model and language pickers of the upload form. A model that cannot run now
 * (not downloaded, downloading, failed) is shown greyed out, so the user learns it exists
 * and where to get it; an engine that reads one language shows it in words, not as a field.
 */
export function EnginePicker({ offer, info, value, onChange }: { offer: Offer; info: SystemInfo | undefined; value: EngineChoice; onChange: (v: EngineChoice) => void }) {
  const engine = engineOf(value, offer);
  const models = engine === 'whisper' ? offer.whisperModels : [];
  const defaultModel = models.find((m) => m.default === true);
  const languages = languagesOf(value, offer, info);
  const problem = languageProblem(value, offer, info);
  const offered = languages ?? COMMON_LANGUAGES;

  return (
    <fieldset>
      <legend>Engine and language</legend>
      <div class="field">
        <label for="engine">Engine</label>
        <select
          id="engine"
          value={engine}
          disabled={offer.engines.length === 0}
          onChange={(e) => onChange({ ...value, engine: e.currentTarget.value === offer.defaultEngine ? '' : e.currentTarget.value, model: '' })}
        >
          {offer.engines.map((m) => (
            <option key={m.id} value={m.id} disabled={!usable(m)}>
              {m.id}
              {m.id === offer.defaultEngine ? ' (server default)' : ''}
              {usable(m) ? '' : ' (not ready)'}
            </option>
          ))}
        </select>
      </div>
      {models.length > 0 && (
        <div class="field">
          <label for="model">Model</label>
          <select id="model" value={value.model} aria-describedby="model-hint" onChange={(e) => onChange({ ...value, model: e.currentTarget.value })}>
            <option value="">Default{defaultModel === undefined ? '' : ` (${defaultModel.id.slice(WHISPER_PREFIX.length)})`}</option>
            {models.map((m) => (
              <option key={m.id} value={m.id} disabled={!usable(m)}>
                {m.id.slice(WHISPER_PREFIX.length)}
                {STATE_NOTES[m.state ?? 'available'] ?? ''}
              </option>
            ))}
          </select>
          <p class="hint" id="model-hint">
            A model is loaded on first use. Models not downloaded are greyed out; an admin fetches them in <a href={href.models}>Models</a>.
          </p>
        </div>
      )}
      {languages !== undefined && languages.length === 1 ? (
        <p class="field field-fixed">
          <span class="field-name">Language</span> {languageName(languages[0]!)} <span class="muted">(the only one {modelOf(value, offer).slice(WHISPER_PREFIX.length) || engine} reads)</span>
        </p>
      ) : (
        <div class="field">
          <label for="language">Language</label>
          <input
            id="language"
            type="text"
            list="language-list"
            autocomplete="off"
            spellcheck={false}
            maxLength={16}
            placeholder="Engine default"
            value={value.language}
            aria-invalid={problem !== undefined}
            aria-describedby="language-hint"
            onInput={(e) => onChange({ ...value, language: e.currentTarget.value })}
          />
          <datalist id="language-list">
            {offered.map((code) => (
              <option key={code} value={code}>
                {languageName(code)}
              </option>
            ))}
          </datalist>
          <p class={`hint${problem === undefined ? '' : ' warn-text'}`} id="language-hint">
            {problem ?? 'A code such as en or de (type to see the list); blank: the engine’s default.'}
          </p>
        </div>
      )}
    </fieldset>
  );
}
