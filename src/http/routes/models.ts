import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_MODEL_ALIASES, ISOLATION_MODES, listModels, resolveModel } from '../../engines/index.js';
import { AppError } from '../../errors.js';
import type { ModelInfo } from '../../models/index.js';
import { errorResponses } from '../openapi.js';
import type { AppDeps } from '../types.js';

const modelSchema = z.object({
  id: z.string().describe('What a request passes as `model` (OpenAI routes) or `engine` (hark\'s).'),
  object: z.literal('model'),
  created: z.number(),
  owned_by: z.string(),
  engine: z.string().optional(),
  alias_of: z.string().optional().describe('For OpenAI\'s model names (`whisper-1`, ...): the engine they stand for, the default.'),
  state: z
    .enum(['not_downloaded', 'downloading', 'available', 'loaded', 'failed'])
    .optional()
    .describe('`not_downloaded`: in the catalogue only; `downloading`: see `download`; `available`: ready, loaded nowhere; `loaded`: see `loaded`; `failed`: see `error`.'),
  bytes: z.number().nullable().optional().describe('Size of its file (or of the download).'),
  default: z.boolean().optional().describe('The engine\'s default model, or the default engine.'),
  loaded: z
    .array(z.object({ isolation: z.enum(ISOLATION_MODES), pid: z.number().int(), slot: z.number().int().optional(), bytes: z.number(), in_use: z.boolean() }))
    .optional()
    .describe('Each process holding it in memory now (the server in-process, each worker) and what it takes there.'),
  download: z
    .object({ received_bytes: z.number(), total_bytes: z.number(), bytes_per_second: z.number(), started_at: z.string() })
    .optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
type ModelView = z.infer<typeof modelSchema>;

const params = z.object({ model: z.string().max(128) });

/**
 * `/v1/models`: OpenAI's list and retrieve, with hark's state of each model
 * (downloaded, loaded where, downloading); an admin pulls a catalogue model
 * (`POST`, resumable, checksummed) and deletes one (`DELETE`).
 */
export const modelRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  const created = Math.floor(Date.now() / 1000);
  const base = (id: string) => ({ id, object: 'model' as const, created, owned_by: 'hark' });
  const view = (m: ModelInfo): ModelView => ({
    ...base(m.id),
    engine: m.engine,
    state: m.state,
    bytes: m.bytes,
    default: m.isDefault,
    loaded: m.loaded.map((p) => ({ isolation: p.isolation, pid: p.pid, ...(p.slot === undefined ? {} : { slot: p.slot }), bytes: p.bytes, in_use: p.inUse })),
    ...(m.download === undefined
      ? {}
      : {
          download: {
            received_bytes: m.download.receivedBytes,
            total_bytes: m.download.totalBytes,
            bytes_per_second: m.download.bytesPerSecond,
            started_at: new Date(m.download.startedAt).toISOString(),
          },
        }),
    ...(m.error === undefined ? {} : { error: m.error }),
  });
  const aliases = (): ModelView[] => DEFAULT_MODEL_ALIASES.map((id) => ({ ...base(id), alias_of: deps.config.ENGINE }));
  const all = async (): Promise<ModelView[]> =>
    deps.models === undefined ? listModels(deps.config).map(base) : [...(await deps.models.list()).map(view), ...aliases()];

  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['openai'],
        summary: 'Models this server offers (engines, whisper models, OpenAI aliases), with their state',
        response: { 200: z.object({ object: z.literal('list'), data: z.array(modelSchema) }) },
      },
      config: { scope: 'transcribe' },
    },
    async () => ({ object: 'list' as const, data: await all() }),
  );

  app.get(
    '/v1/models/:model',
    {
      schema: { tags: ['openai'], summary: 'One model, with its download progress while it is pulled', params, response: { 200: modelSchema, ...errorResponses(400) } },
      config: { scope: 'transcribe' },
    },
    async (request) => {
      const found = (await all()).find((m) => m.id === request.params.model);
      if (found !== undefined) return found;
      resolveModel(request.params.model, deps.config); // MODEL_NOT_DOWNLOADED or MODEL_NOT_FOUND with the valid ids
      throw new AppError('MODEL_NOT_FOUND', `unknown model "${request.params.model}"`);
    },
  );

  app.post(
    '/v1/models/:model',
    {
      schema: {
        tags: ['openai'],
        summary: 'Download a catalogue model (admin): 202 while it downloads (GET shows progress), 200 when it is already here',
        description:
          'Downloads `ggml-<name>.bin` from MODELS_BASE_URL into MODELS_DIR: resumed after an interruption, checked against the ' +
          'catalogue\'s length and SHA-1, and renamed into place only once verified. A second pull of a model being downloaded ' +
          'joins the first. The same code as `hark models pull`. A model that MODELS_DIR\'s disk cannot take (what a partial download ' +
          'holds counts) is refused before any download: 507 INSUFFICIENT_STORAGE; a disk that fills during the download fails it with ' +
          'the same code (GET shows it), keeping the partial file for the next pull to resume.',
        params,
        response: { 200: modelSchema, 202: modelSchema, ...errorResponses(400, 404, 507) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const registry = requireRegistry(deps);
      const { started, model } = await registry.pull(request.params.model);
      return reply.status(model.state === 'downloading' || started ? 202 : 200).send(view(model));
    },
  );

  app.delete(
    '/v1/models/:model',
    {
      schema: {
        tags: ['openai'],
        summary: 'Delete a downloaded whisper model (admin): unloaded everywhere first',
        description:
          'Idle copies are unloaded at once; a decode using the model finishes first, then it is unloaded. Later requests for it get ' +
          '409 MODEL_NOT_DOWNLOADED. The default model and a model being downloaded are refused (409 MODEL_IN_USE).',
        params,
        response: { 200: z.object({ id: z.string(), object: z.literal('model'), deleted: z.literal(true) }), ...errorResponses(400, 404, 409) },
      },
      config: { scope: 'admin' },
    },
    async (request) => {
      await requireRegistry(deps).delete(request.params.model);
      return { id: request.params.model, object: 'model' as const, deleted: true as const };
    },
  );
};

function requireRegistry(deps: AppDeps): NonNullable<AppDeps['models']> {
  if (deps.models === undefined) throw new AppError('NOT_FOUND', 'this server does not manage models');
  return deps.models;
}
