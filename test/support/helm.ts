import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { ensureHelm } from '../../scripts/helm-tools.js';
import type { K8sObject } from './kubernetes.js';

const run = promisify(execFile);

export const CHART_DIR = fileURLToPath(new URL('../../deploy/helm/hark/', import.meta.url));

/** A render's inputs: preset files of the chart, then values written to a temp file. */
export interface RenderInput {
  presets?: string[];
  values?: Record<string, unknown>;
}

/** The real helm binary (scripts/helm-tools.ts) with its state in a temp folder, never in ~. */
export interface Helm {
  /** `helm template` as a release named `hark` in namespace `speech`: the rendered objects. */
  template(input?: RenderInput): Promise<K8sObject[]>;
  /** `helm template` that must fail: its error output. */
  templateError(input: RenderInput): Promise<string>;
  /** `helm lint --strict`: its output (throws with the output when lint fails). */
  lint(input?: RenderInput): Promise<string>;
  close(): Promise<void>;
}

export async function openHelm(): Promise<Helm> {
  const bin = await ensureHelm();
  const home = await mkdtemp(join(tmpdir(), 'hark-helm-'));
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECONFIG: join(home, 'no-kubeconfig'),
  };
  let n = 0;
  const args = async (input: RenderInput): Promise<string[]> => {
    const out = (input.presets ?? []).flatMap((p) => ['-f', join(CHART_DIR, p)]);
    if (input.values !== undefined) {
      const file = join(home, `values-${n++}.yaml`);
      await writeFile(file, stringify(input.values));
      out.push('-f', file);
    }
    return out;
  };
  const helm = (argv: string[]) => run(bin, argv, { env, maxBuffer: 64 * 1024 * 1024 });
  return {
    async template(input = {}) {
      const { stdout } = await helm(['template', 'hark', CHART_DIR, '--namespace', 'speech', ...(await args(input))]);
      return parseAllDocuments(stdout)
        .map((d) => d.toJS() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null);
    },
    async templateError(input) {
      try {
        await helm(['template', 'hark', CHART_DIR, '--namespace', 'speech', ...(await args(input))]);
      } catch (err) {
        return String((err as { stderr?: string }).stderr ?? err);
      }
      throw new Error(`helm template succeeded with ${JSON.stringify(input)}`);
    },
    async lint(input = {}) {
      try {
        const { stdout } = await helm(['lint', '--strict', CHART_DIR, ...(await args(input))]);
        return stdout;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`helm lint failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    },
    close: () => rm(home, { recursive: true, force: true }),
  };
}
