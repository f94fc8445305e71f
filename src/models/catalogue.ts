import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Config } from '../config/index.js';

/** A whisper.cpp ggml size, as WHISPER_MODEL_SIZE names it. */
export type WhisperModelSize = Config['WHISPER_MODEL_SIZE'];

/** What a download of `ggml-<name>.bin` must produce. */
export interface CatalogueEntry {
  /** Exact length in bytes. */
  bytes: number;
  /** Lower-case hex SHA-1, or null when nobody publishes one (then only the length is checked). */
  sha1: string | null;
}

/** Model name -> expected file, in the order `hark models list` shows them. */
export type Catalogue = ReadonlyMap<string, CatalogueEntry>;

/**
 * The ggml files whisper.cpp publishes on Hugging Face (ggerganov/whisper.cpp).
 *
 * SHA-1: whisper.cpp's `models/README.md`, table "Model | Disk | SHA", at commit
 * f0d2bfbfb77e01df6160f64d249bd43e75e11660 (unchanged since large-v3-turbo was added in 2ef717b2).
 * Bytes: the length Hugging Face reports for each file (its tree API's `size`); the README gives
 * only rounded MiB. The same lengths appear, independently, in several projects pinning these files.
 */
const BUILT_IN = {
  tiny: { bytes: 77_691_713, sha1: 'bd577a113a864445d4c299885e0cb97d4ba92b5f' },
  'tiny.en': { bytes: 77_704_715, sha1: 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df' },
  base: { bytes: 147_951_465, sha1: '465707469ff3a37a2b9b8d8f89f2f99de7299dac' },
  'base.en': { bytes: 147_964_211, sha1: '137c40403d78fd54d454da0f9bd998f78703390c' },
  small: { bytes: 487_601_967, sha1: '55356645c2b361a969dfd0ef2c5a50d530afd8d5' },
  'small.en': { bytes: 487_614_201, sha1: 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022' },
  medium: { bytes: 1_533_763_059, sha1: 'fd9727b6e1217c2f614f9b698455c4ffd82463b4' },
  'medium.en': { bytes: 1_533_774_781, sha1: '8c30f0e44ce9560643ebd10bbe50cd20eafd3723' },
  'large-v1': { bytes: 3_094_623_691, sha1: 'b1caaf735c4cc1429223d5a74f0f4d0b9b59a299' },
  'large-v2': { bytes: 3_094_623_691, sha1: '0f4c8e34f21cf1a914c59d8b3ce882345ad349d6' },
  'large-v3': { bytes: 3_095_033_483, sha1: 'ad82bf6a9043ceed055076d0fd39f5f186ff8062' },
  'large-v3-turbo': { bytes: 1_624_555_275, sha1: '4af2b29d7ec73d781377bfd1758ca957a807e941' },
} as const satisfies Record<WhisperModelSize, CatalogueEntry>;

/** The built-in catalogue: every WHISPER_MODEL_SIZE (the `satisfies` above keeps them in step). */
export const BUILT_IN_CATALOGUE: Catalogue = new Map(Object.entries(BUILT_IN));

/** A model name: it becomes a file name (`ggml-<name>.bin`), so nothing that could climb out of MODELS_DIR. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const overrideSchema = z.record(
  z.string().regex(MODEL_NAME, { error: 'a model name such as tiny.en or large-v3-q5_0' }),
  z.strictObject({
    bytes: z.number().int().positive(),
    sha1: z
      .string()
      .regex(/^[0-9a-fA-F]{40}$/, { error: '40 hex digits' })
      .transform((s) => s.toLowerCase())
      .nullable(),
  }),
);

/**
 * The built-in catalogue, with the entries of a JSON file (`{"<name>": {"bytes": n, "sha1": "…"|null}}`)
 * replacing or adding to it: for a mirror that serves other files (quantized models, an internal
 * conversion) and for tests that serve small files.
 */
export async function loadCatalogue(overrideFile?: string): Promise<Catalogue> {
  if (overrideFile === undefined) return BUILT_IN_CATALOGUE;
  return parseCatalogue(await readFile(overrideFile, 'utf8'), overrideFile);
}

/** `loadCatalogue` for a caller that cannot wait (a request's model resolved before its body); the file is small. */
export function loadCatalogueSync(overrideFile?: string): Catalogue {
  if (overrideFile === undefined) return BUILT_IN_CATALOGUE;
  return parseCatalogue(readFileSync(overrideFile, 'utf8'), overrideFile);
}

function parseCatalogue(text: string, overrideFile: string): Catalogue {
  const parsed = z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(overrideSchema)
    .safeParse(text);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`catalogue ${overrideFile}: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`);
  }
  return new Map([...BUILT_IN_CATALOGUE, ...Object.entries(parsed.data)]);
}

/** The file name whisper.cpp and hark use for a model name. */
export function modelFileName(name: string): string {
  return `ggml-${name}.bin`;
}
