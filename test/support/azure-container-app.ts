import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/** deploy/azure/containerapp.yaml as the documented command fills it in, and Microsoft.App's model of it. */

const ROOT = new URL('../../', import.meta.url);
const MANIFEST = new URL('deploy/azure/containerapp.yaml', ROOT);
// The SDK's wire (de)serializers are the Microsoft.App API model; the package exports only its
// client, so they are loaded from its file (the version is pinned with ~ in package.json).
const ACA_MODELS = new URL('node_modules/@azure/arm-appcontainers/dist/esm/models/models.js', ROOT);

/** The parts of a container app the tests read. */
export interface AcaContainer {
  args: string[];
  env: { name: string; value?: string; secretRef?: string }[];
  resources: { cpu: number; memory: string };
  probes: { type: string; httpGet: { path: string; port: number }; initialDelaySeconds?: number; periodSeconds: number; failureThreshold: number; timeoutSeconds: number }[];
}
export interface Aca {
  properties: {
    configuration: { ingress: { targetPort: number }; secrets: { name: string }[] };
    template: {
      terminationGracePeriodSeconds: number;
      containers: AcaContainer[];
      volumes: { name: string; storageType: string }[];
      scale: { minReplicas: number; maxReplicas: number; rules: { name: string; http?: { metadata: { concurrentRequests: string } } }[] };
    };
  };
}

/**
 * The manifest as the documented command makes it: the real envsubst, with the variable list of
 * the file's header, and made-up values for them. `placeholders` are the file's `${NAME}`s,
 * `substituted` the names that list gives envsubst.
 */
export async function manifest(): Promise<{ placeholders: string[]; substituted: string[]; doc: Aca & Record<string, unknown> }> {
  const text = await readFile(MANIFEST, 'utf8');
  const placeholders = [...new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!))];
  const shellFormat = /envsubst '([^']+)'/.exec(text)?.[1] ?? '';
  const substituted = shellFormat.split(/\s+/).map((v) => v.replace(/^\$/, ''));
  const values: Record<string, string> = {
    ...Object.fromEntries(placeholders.map((p) => [p, `value-of-${p.toLowerCase()}`])),
    IDENTITY_ID: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/hark',
    AZURE_SPEECH_REGION: 'westeurope',
    DATABASE_URL: 'postgres://hark:p%40ss@hark.postgres.database.azure.com:5432/hark?sslmode=require',
  };
  const filled = execFileSync('envsubst', [shellFormat], { input: text, encoding: 'utf8', env: { PATH: process.env.PATH, ...values } });
  return { placeholders, substituted, doc: parse(filled) as Aca & Record<string, unknown> };
}

/** Paths of `original` that are missing or different in `kept`. */
function lostPaths(original: unknown, kept: unknown, path = ''): string[] {
  if (Array.isArray(original)) return original.flatMap((v, i) => lostPaths(v, Array.isArray(kept) ? kept[i] : undefined, `${path}[${i}]`));
  if (original !== null && typeof original === 'object') {
    const k = kept !== null && typeof kept === 'object' ? (kept as Record<string, unknown>) : {};
    return Object.entries(original).flatMap(([key, v]) => lostPaths(v, k[key], `${path}.${key}`));
  }
  return original === kept ? [] : [`${path}: ${JSON.stringify(original)} -> ${JSON.stringify(kept)}`];
}

/**
 * Sends an ARM container app resource (what `az containerapp create --yaml` takes, less `name`
 * and `type`) through the SDK's deserializer and serializer: a field the model does not know, or
 * one in the wrong place, is dropped on the way. Returns what was lost.
 */
export async function lostInRoundTrip(resource: Record<string, unknown>): Promise<string[]> {
  const models = (await import(ACA_MODELS.href)) as {
    containerAppDeserializer(wire: unknown): unknown;
    containerAppSerializer(model: unknown): unknown;
  };
  const roundTrip = JSON.parse(JSON.stringify(models.containerAppSerializer(models.containerAppDeserializer(resource)))) as unknown;
  return lostPaths(resource, roundTrip);
}
