import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

/**
 * Offline checks of Kubernetes objects against the API's own schemas, standing in for the API
 * server (kubectl cannot validate without one). Two complementary passes:
 * - kubernetes-models' validators, generated from the Kubernetes OpenAPI document (and the
 *   Prometheus Operator CRDs): types, required fields, enums, formats;
 * - a TypeScript excess-property check of each object against the same models' interfaces:
 *   the validators accept unknown fields, which the API server rejects (kubectl's default
 *   field validation is Strict) or, worse, drops silently (a misplaced securityContext field).
 */

/** One rendered Kubernetes object (a document of `helm template`). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

type Validatable = new (data: never) => { validate(): void };

interface Kind {
  model: Validatable;
  module: string;
  iface: string;
}

const KINDS: Record<string, Kind> = {
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', iface: 'IConfigMap' },
  'v1/PersistentVolumeClaim': { model: PersistentVolumeClaim, module: 'kubernetes-models/v1/PersistentVolumeClaim', iface: 'IPersistentVolumeClaim' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', iface: 'ISecret' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', iface: 'IService' },
  'v1/ServiceAccount': { model: ServiceAccount, module: 'kubernetes-models/v1/ServiceAccount', iface: 'IServiceAccount' },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', iface: 'IDeployment' },
  'apps/v1/StatefulSet': { model: StatefulSet, module: 'kubernetes-models/apps/v1/StatefulSet', iface: 'IStatefulSet' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    iface: 'IHorizontalPodAutoscaler',
  },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', iface: 'IPodDisruptionBudget' },
  'monitoring.coreos.com/v1/ServiceMonitor': {
    model: ServiceMonitor,
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    iface: 'IServiceMonitor',
  },
};

const label = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

/** Problems found by the generated validators (empty when every object is valid). */
export function validateWithModels(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const kind = KINDS[`${o.apiVersion}/${o.kind}`];
    if (kind === undefined) {
      problems.push(`${label(o)}: no schema for ${o.apiVersion} ${o.kind} (add it to test/support/kubernetes.ts)`);
      continue;
    }
    try {
      new kind.model(o as never).validate();
    } catch (err) {
      problems.push(`${label(o)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

/**
 * Problems found by type-checking each object, as an object literal, against its interface:
 * unknown or misplaced fields and wrong types. One program for all objects (about 2 s).
 */
export function typeCheckObjects(objects: readonly K8sObject[]): string[] {
  // A virtual file beside the tests, so module resolution finds the project's node_modules.
  const file = fileURLToPath(new URL('../__kubernetes_objects__.ts', import.meta.url));
  const used = new Set<string>();
  const lines: string[] = [];
  objects.forEach((o, i) => {
    const kind = KINDS[`${o.apiVersion}/${o.kind}`];
    if (kind === undefined) return;
    used.add(`${o.apiVersion}/${o.kind}`);
    lines.push(`export const o${i}: ${kind.iface} = ${JSON.stringify(o)};`);
  });
  const imports = [...used].map((k) => `import type { ${KINDS[k]!.iface} } from '${KINDS[k]!.module}';`);
  const source = [...imports, ...lines].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === file ? ts.createSourceFile(name, source, languageVersion) : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const objectLines = new Map<number, K8sObject>();
  let line = imports.length;
  objects.forEach((o) => {
    if (KINDS[`${o.apiVersion}/${o.kind}`] !== undefined) objectLines.set(line++, o);
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file === undefined || d.start === undefined) return message;
    const at = d.file.getLineAndCharacterOfPosition(d.start);
    const o = objectLines.get(at.line);
    return o === undefined ? message : `${label(o)}: ${message}`;
  });
}
