import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import type { Store } from '../store/index.js';

/*
 * `hark keys create|list|revoke`: API keys in the store named by DATABASE_URL (or
 * DATA_DIR/hark.db), opened directly: no server needs to run, and a revoke takes effect at
 * the server's next request (it reads keys from the store every time).
 */

async function withStore(config: Config, fn: (store: Store) => Promise<void>): Promise<void> {
  // The store's drivers are loaded here, not when the CLI starts: other commands do without them.
  const [{ openStore }, { createLogger }] = await Promise.all([import('../store/index.js'), import('../logger.js')]);
  const store = await openStore(config, resolve(config.DATA_DIR), createLogger('silent'));
  try {
    await fn(store);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    process.stderr.write(`hark: ${err.message}\n`);
    process.exitCode = 1;
  } finally {
    await store.close();
  }
}

export function registerKeys(program: Command, config: () => Config): void {
  const keys = program.command('keys').description('API keys (AUTH_MODE=api_key), in the job store (DATABASE_URL / DATA_DIR)');

  keys
    .command('create')
    .description('create a key; it is printed once (only its SHA-256 is stored)')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--scopes <list>', 'comma-separated: transcribe, jobs, admin', 'transcribe,jobs')
    .action(async (opts: { name: string; scopes: string }) => {
      const { createApiKey, parseScopes } = await import('../auth/keys.js');
      await withStore(config(), async (store) => {
        const { key, record } = await createApiKey(store.keys, opts.name, parseScopes(opts.scopes));
        process.stdout.write(`${key}\n`);
        process.stderr.write(`created key ${record.id} (${record.name}; scopes ${record.scopes.join(',')}). Store it now: it is not shown again.\n`);
      });
    });

  keys
    .command('list')
    .description('keys: id, name, scopes, created, revoked, audio hours used today (UTC)')
    .action(async () => {
      const c = config();
      const { UsageMeter } = await import('../auth/usage.js');
      await withStore(c, async (store) => {
        const usage = new UsageMeter(store.usage, c.KEY_MAX_AUDIO_HOURS_PER_DAY);
        const limit = c.KEY_MAX_AUDIO_HOURS_PER_DAY === 0 ? '' : `/${c.KEY_MAX_AUDIO_HOURS_PER_DAY}`;
        for (const k of await store.keys.listApiKeys()) {
          const revoked = k.revokedAt === null ? 'active' : `revoked ${new Date(k.revokedAt).toISOString()}`;
          const used = ((await usage.usedToday(k.id)) / 3600).toFixed(3);
          process.stdout.write(`${k.id}  ${k.name}  ${k.scopes.join(',')}  ${new Date(k.createdAt).toISOString()}  ${revoked}  today ${used}${limit} h\n`);
        }
      });
    });

  keys
    .command('revoke')
    .description('revoke a key by id (requests with it get 401 from then on)')
    .argument('<id>')
    .action(async (id: string) => {
      await withStore(config(), async (store) => {
        if (!(await store.keys.revokeApiKey(id, Date.now()))) throw new AppError('NOT_FOUND', `no active key ${id}`);
        process.stdout.write(`revoked ${id}\n`);
      });
    });
}
