import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema, configShape } from '../src/config/index.js';
import { aptInstalls, dockerIgnores, execForm, npmRuns, parseDockerfile, shellCommands, type Instruction } from './support/container-files.js';
import { freePort } from './support/net.js';
import { startTestServer } from './support/server.js';

/*
 * The container image and the compose profiles, checked without a Docker engine
 * (none runs here): the Dockerfile against scripts/setup.sh and package.json, a
 * few hadolint-style rules (hadolint is not packaged by Debian), its health check
 * against a real hark, and docker-compose.yml against hark's config schema and
 * Debian's docker-compose (v1.29, which knows profiles and deploy.replicas).
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const dockerfile = parseDockerfile(read('Dockerfile'));
const finalStage = dockerfile.stages.length - 1;
const inStage = (stage: number, keyword: string): Instruction[] => dockerfile.instructions.filter((i) => i.stage === stage && i.keyword === keyword);
const buildStage = dockerfile.stages.findIndex((s) => s.name === 'build');
const stageApt = (stage: number) => inStage(stage, 'RUN').flatMap((i) => aptInstalls(i.args));

/** scripts/setup.sh's apt packages (the list every install gets, not `--test`'s additions). */
function setupPackages(): { runtime: string[]; build: string[] } {
  const m = /^APT_PACKAGES=\(([^)]*)\)/m.exec(read('scripts/setup.sh'));
  if (m === null) throw new Error('scripts/setup.sh: no APT_PACKAGES=(...) line');
  const all = m[1]!.trim().split(/\s+/);
  // Compilers, headers and build tools are needed only to build the addon; the rest is used at run time.
  const buildOnly = (p: string) => p.endsWith('-dev') || ['build-essential', 'pkg-config', 'python3'].includes(p);
  return { runtime: all.filter((p) => !buildOnly(p)), build: all.filter(buildOnly) };
}

/** The image's own ENV (the settings every container starts with). */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of inStage(finalStage, 'ENV')) {
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

/** Variables the image sets that are not hark settings, and why. */
const NOT_HARK_SETTINGS: Record<string, string> = {
  NODE_ENV: 'read by dependencies (fastify, pino), not by hark',
  npm_config_nodedir: 'build stage only: node-gyp uses the headers in the image',
};

interface ComposeService {
  build?: unknown;
  image?: string;
  profiles?: string[];
  environment?: Record<string, string | number | boolean> | string[];
  env_file?: string | string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, unknown>;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
const services = Object.entries(compose.services);
/** Services that run hark: built from this repository. */
const harkServices = services.filter(([, s]) => s.build !== undefined);

/** `${VAR:-default}` as compose would expand it with VAR unset. */
const interpolate = (v: string) => v.replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_, def: string | undefined) => def ?? '');

function serviceEnv(s: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  const entries = Array.isArray(s.environment)
    ? s.environment.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)] as const)
    : Object.entries(s.environment ?? {});
  for (const file of [s.env_file ?? []].flat()) {
    for (const line of read(file).split('\n')) {
      const m = /^\s*([A-Za-z_]\w*)=(.*)$/.exec(line);
      if (m !== null) env[m[1]!] = m[2]!;
    }
  }
  for (const [k, v] of entries) env[k] = interpolate(String(v));
  return env;
}

const dependsOn = (s: ComposeService) => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}));
const inProfile = (profile: string) => services.filter(([, s]) => s.profiles?.includes(profile));

describe('Dockerfile', () => {
  it("installs setup.sh's build packages in the build stage and its runtime packages (nothing to compile with) in the runtime stage", () => {
    const pkgs = setupPackages();
    expect(buildStage).toBeGreaterThanOrEqual(0);
    expect(new Set(stageApt(buildStage))).toEqual(new Set(pkgs.build));
    expect(new Set(stageApt(finalStage))).toEqual(new Set([...pkgs.runtime, 'tini']));
  });

  it("runs npm ci, package.json's build steps and the dev-dependency prune, and starts what `npm start` starts", () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const commands = inStage(buildStage, 'RUN').flatMap((i) => shellCommands(i.args));
    const ci = commands.findIndex((c) => /^npm ci\b/.test(c));
    const prune = commands.findIndex((c) => /^npm prune\b.*--omit=dev/.test(c));
    const built = inStage(buildStage, 'RUN').flatMap((i) => npmRuns(i.args));
    for (const script of built) expect(pkg.scripts, `npm run ${script}`).toHaveProperty(script);
    // `build` itself, or exactly its parts: a step added to package.json's build must reach the image.
    const parts = npmRuns(pkg.scripts['build'] ?? '');
    expect(built.includes('build') ? parts : built).toEqual(parts);
    const firstBuild = commands.findIndex((c) => /^npm run /.test(c));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(ci).toBeLessThan(firstBuild);
    expect(prune).toBeGreaterThan(commands.findLastIndex((c) => /^npm run /.test(c)));
    const cmd = execForm(inStage(finalStage, 'CMD')[0]?.args ?? '');
    expect(cmd?.join(' ')).toBe(pkg.scripts['start']);
  });

  it('copies into the runtime stage everything the built server loads: package.json (ESM), node_modules, dist and the addon', () => {
    const copied = inStage(finalStage, 'COPY')
      .filter((i) => i.args.includes('--from=build'))
      .map((i) => i.args.split(/\s+/).at(-1)!.replace(/^\.\//, '').replace(/^\/app\//, ''));
    const gyp = JSON.parse(read('native/pocketsphinx/binding.gyp')) as { targets: { target_name: string }[] };
    const addon = `native/pocketsphinx/build/Release/${gyp.targets[0]!.target_name}.node`;
    // The path the engine loads the addon from, relative to the app root.
    expect(read('src/engines/pocketsphinx/native.ts')).toContain(addon);
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'node_modules', 'dist', addon]));
    expect(inStage(finalStage, 'WORKDIR').at(-1)?.args).toBe('/app');
  });

  it('keeps only the CPU build of whisper.cpp in node_modules: no CUDA, Vulkan or wasm variants', async () => {
    const step = inStage(buildStage, 'RUN').find((i) => i.args.includes('node-whisper-'))!;
    expect(step.args).toMatch(/^npm prune --omit=dev/);
    // The step as the image runs it, after `npm prune`, on a node_modules laid out as npm installs it here.
    const dir = await mkdtemp(join(tmpdir(), 'hark-prune-'));
    const fugood = join(dir, 'node_modules/@fugood');
    const variants = ['', '-cuda', '-vulkan'].map((v) => `node-whisper-linux-${process.arch}${v}`);
    try {
      for (const d of ['whisper.node', 'node-whisper-wasm', ...variants]) await mkdir(join(fugood, d), { recursive: true });
      await run('sh', ['-c', step.args.replace(/^npm prune[^&]*/, 'true ')], { cwd: dir, env: { PATH: process.env['PATH'] ?? '' } });
      expect((await readdir(fugood)).sort()).toEqual([`node-whisper-linux-${process.arch}`, 'whisper.node']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes the lint rules hadolint would apply (hadolint is not in Debian)', () => {
    for (const s of dockerfile.stages) {
      const tag = /^[^:@/]+(?:\/[^:@]+)*:([^@]+)$/.exec(s.image)?.[1];
      expect(tag, `FROM ${s.image}: pin a tag`).toBeDefined();
      expect(tag).not.toBe('latest');
    }
    for (const r of dockerfile.instructions.filter((i) => i.keyword === 'RUN' && aptInstalls(i.args).length > 0)) {
      const cmds = shellCommands(r.args);
      const install = cmds.find((c) => /apt-get\s+install/.test(c))!;
      expect(install).toMatch(/\s-y\b/);
      expect(install).toContain('--no-install-recommends');
      expect(cmds.some((c) => /^apt-get update\b/.test(c)), 'apt-get update in the same RUN').toBe(true);
      expect(cmds, 'apt lists removed in the same RUN').toContain('rm -rf /var/lib/apt/lists/*');
    }
    const order = dockerfile.instructions.filter((i) => i.stage === finalStage).map((i) => i.keyword);
    const user = inStage(finalStage, 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user?.split(':')[0]);
    expect(order.lastIndexOf('USER')).toBeLessThan(order.indexOf('CMD'));
    expect(execForm(inStage(finalStage, 'ENTRYPOINT')[0]?.args ?? '')).toEqual(['/usr/bin/tini', '--']);
    expect(inStage(finalStage, 'HEALTHCHECK')).toHaveLength(1);
    expect(inStage(finalStage, 'CMD')).toHaveLength(1);
  });

  it('sets only hark settings, valid ones: listening on all interfaces on the exposed port, DATA_DIR a volume', () => {
    const env = imageEnv();
    for (const key of Object.keys(env)) if (!(key in NOT_HARK_SETTINGS)) expect(Object.keys(configShape)).toContain(key);
    const harkEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k in configShape));
    const config = configSchema.parse(harkEnv);
    expect(config.HOST).toBe('0.0.0.0');
    expect(inStage(finalStage, 'EXPOSE').map((i) => i.args)).toEqual([String(config.PORT)]);
    expect(inStage(finalStage, 'VOLUME').map((i) => execForm(i.args) ?? i.args.split(/\s+/)).flat()).toContain(config.DATA_DIR);
  });

  it("HEALTHCHECK's command succeeds against a running hark and fails when nothing answers", async () => {
    const hc = inStage(finalStage, 'HEALTHCHECK')[0]!.args;
    const cmd = execForm(hc.slice(hc.indexOf('CMD') + 3).trim())!;
    expect(cmd[0]).toBe('node');
    const check = (port: number) =>
      run(process.execPath, cmd.slice(1), { env: { PATH: process.env['PATH'] ?? '', PORT: String(port) }, timeout: 10_000 }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    const server = await startTestServer({}, { waitReady: false });
    try {
      const port = Number(new URL(server.url).port);
      expect(await check(port)).toBe(0);
    } finally {
      await server.stop();
    }
    expect(await check(await freePort())).toBe(1);
  });
});

describe('.dockerignore', () => {
  const ignore = read('.dockerignore');

  it("sends the build what the Dockerfile copies, and never this machine's builds, data, secrets or results", () => {
    const sources = inStage(buildStage, 'COPY')
      .filter((i) => !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), src).toBe(true);
      expect(dockerIgnores(ignore, src), src).toBe(false);
    }
    for (const p of ['node_modules', 'dist', 'data', 'native/pocketsphinx/build', '.git', '.env', '.env.k6', 'bench/results', 'loadtest/results', 'coverage', '.vitest-results.json']) {
      expect(dockerIgnores(ignore, p), p).toBe(true);
    }
  });
});

describe('docker-compose.yml', () => {
  it('sets only hark settings on hark services, with values hark accepts', () => {
    expect(harkServices.length).toBeGreaterThan(0);
    for (const [name, s] of harkServices) {
      const env = serviceEnv(s);
      // ROLE (api | worker) arrives with the roles work; allowed here until it is in the schema.
      const unknown = Object.keys(env).filter((k) => !(k in configShape) && !(k === 'ROLE' && !('ROLE' in configShape)));
      expect(unknown, `${name}: not hark settings`).toEqual([]);
      const settings = { ...imageEnv(), ...env };
      const parsed = configSchema.safeParse(Object.fromEntries(Object.entries(settings).filter(([k]) => k in configShape)));
      expect(parsed.error?.issues ?? [], name).toEqual([]);
    }
  });

  it('gives each profile its services: sync-only without a pool, full with pool and monitoring, scale on PostgreSQL', () => {
    for (const [name, s] of services) expect(s.profiles?.length, `${name} belongs to a profile`).toBeGreaterThan(0);
    const names = (p: string) => inProfile(p).map(([n]) => n).sort();
    expect(names('sync-only')).toEqual(['hark-sync']);
    expect(serviceEnv(compose.services['hark-sync']!)['ENABLE_PROCESS_ISOLATED']).toBe('false');
    expect(names('full')).toEqual(['grafana', 'hark', 'prometheus']);
    expect(configSchema.parse(serviceEnv(compose.services['hark']!)).ENABLE_PROCESS_ISOLATED).toBe(true);
    expect(names('scale')).toEqual(['hark-api', 'hark-worker', 'postgres']);
    expect(compose.services['postgres']!.image).toMatch(/^postgres:16\b/);
    const api = serviceEnv(compose.services['hark-api']!);
    const worker = serviceEnv(compose.services['hark-worker']!);
    expect([api['ROLE'], worker['ROLE']]).toEqual(['api', 'worker']);
    for (const env of [api, worker]) expect(new URL(env['DATABASE_URL']!).hostname).toBe('postgres');
    expect(compose.services['hark-worker']!.deploy?.replicas).toBe(2);
    expect(compose.services['hark-worker']!.ports ?? []).toEqual([]);
    // Workers open job audio at the absolute path the api stored: the same volume at the same place.
    expect(compose.services['hark-api']!.volumes).toEqual(compose.services['hark-worker']!.volumes);
    // ...but each replica's DATA_DIR (whose tmp/ hark empties at start) is its own, off that volume.
    const shared = compose.services['hark-worker']!.volumes!.map((v) => v.split(':')[1]!);
    const workerDataDir = configSchema.parse({ ...imageEnv(), ...worker }).DATA_DIR;
    for (const mount of shared) expect(`${workerDataDir}/`.startsWith(`${mount}/`), `${workerDataDir} on ${mount}`).toBe(false);
    for (const [name, s] of services) {
      for (const dep of dependsOn(s)) expect(compose.services[dep]?.profiles, `${name} -> ${dep}`).toEqual(expect.arrayContaining(s.profiles!));
    }
  });

  it('lets running tasks drain on stop, and pins every image to a tag', () => {
    for (const [name, s] of harkServices) {
      const grace = configSchema.parse(serviceEnv(s)).SHUTDOWN_GRACE_SECONDS;
      expect(Number(/^(\d+)s$/.exec(s.stop_grace_period ?? '')?.[1] ?? 10), name).toBeGreaterThan(grace);
    }
    for (const [name, s] of services.filter(([, s]) => s.build === undefined)) {
      expect(s.image, name).toMatch(/^[^:]+:(?!latest$)[\w.-]+$/);
    }
  });

  it("full profile: Prometheus scrapes the hark service on hark's port, Grafana reads that Prometheus, every mounted file exists", () => {
    const mounts = services.flatMap(([, s]) => (s.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':') as [string, string, ...string[]]));
    for (const [src] of mounts) expect(existsSync(join(ROOT, src)), src).toBe(true);
    const prom = compose.services['prometheus']!;
    const configMount = (prom.volumes ?? []).map((v) => v.split(':')).find((v) => v[1] === '/etc/prometheus/prometheus.yml');
    expect(configMount).toBeDefined();
    const promConfig = parse(read(configMount![0]!)) as { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    for (const rules of promConfig.rule_files) {
      expect((prom.volumes ?? []).some((v) => v.split(':')[1] === `/etc/prometheus/${rules}`), rules).toBe(true);
    }
    const targets = promConfig.scrape_configs.find((c) => c.job_name === 'hark')!.static_configs.flatMap((c) => c.targets);
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) {
      const [host, port] = target.split(':');
      const svc = compose.services[host!];
      expect(svc?.build, `${host} is a hark service`).toBeDefined();
      expect(svc?.profiles).toContain('full');
      expect(port).toBe(String(configSchema.parse({ ...imageEnv(), ...serviceEnv(svc!) }).PORT));
    }
    const grafanaDs = (compose.services['grafana']!.volumes ?? []).map((v) => v.split(':')).find((v) => v[1] === '/etc/grafana/provisioning/datasources')!;
    const ds = parse(read(join(grafanaDs[0]!, 'prometheus.yml'))) as { datasources: { url: string }[] };
    expect(new URL(ds.datasources[0]!.url).host).toBe('prometheus:9090');
  });

  const dockerCompose = process.env['PATH']?.split(delimiter).map((d) => join(d, 'docker-compose')).find((p) => existsSync(p));

  it.skipIf(dockerCompose === undefined)('is valid for docker-compose, in each profile (and a broken copy is not)', async () => {
    // Skipped only where Debian's docker-compose is absent; `scripts/setup.sh --test` installs it.
    const dir = await mkdtemp(join(tmpdir(), 'hark-compose-'));
    const emptyEnv = join(dir, 'empty.env');
    await writeFile(emptyEnv, '');
    const validate = (file: string, profile: string) =>
      run(dockerCompose!, ['--project-directory', ROOT, '-f', file, '--env-file', emptyEnv, '--profile', profile, 'config', '-q'], { cwd: ROOT, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
      );
    try {
      for (const profile of ['sync-only', 'full', 'scale']) expect(await validate(join(ROOT, 'docker-compose.yml'), profile), profile).toEqual({ code: 0, stderr: '' });
      const broken = join(dir, 'docker-compose.yml');
      await writeFile(broken, read('docker-compose.yml').replace('replicas: 2', 'replicas: two'));
      expect((await validate(broken, 'scale')).code).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
