/**
 * Finds the pod (template) inside each kind of workload `weft inject` and `weft uninject` accept, and
 * rebuilds the object around a changed one. Pure.
 *
 *   Pod -> itself;  Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
 *   Argo Rollout (argoproj.io) -> spec.template;  CronJob -> spec.jobTemplate.spec.template;
 *   List -> each item
 *
 * A workload whose pod template is malformed (containers not a list, ...) is an error naming the
 * object and the field, never passed through silently. An Argo Rollout that points at a Deployment
 * (spec.workloadRef) instead of carrying a template is passed through with a note.
 */
import type { PodLike } from '../../injector/pod.js';

export type Obj = Record<string, unknown>;

export interface TemplateVisit {
  /** e.g. deployment/web */
  readonly ref: string;
  readonly namespace: string | undefined;
  readonly pod: PodLike;
}

/** A workload of a kind inject handles whose pod template is not shaped as Kubernetes requires. */
export class WorkloadShapeError extends Error {
  readonly code = 'WORKLOAD_INVALID';
}

const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job']);

function get(o: unknown, path: readonly string[]): unknown {
  let cur = o;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Obj)[p] : undefined;
  return cur;
}

function set(o: Obj, path: readonly string[], value: unknown): Obj {
  const [head, ...rest] = path;
  if (head === undefined) return value as Obj;
  return { ...o, [head]: rest.length === 0 ? value : set((o[head] ?? {}) as Obj, rest, value) };
}

const isArgo = (obj: Obj) => typeof obj['apiVersion'] === 'string' && obj['apiVersion'].startsWith('argoproj.io/');

function templatePath(obj: Obj, kind: string): readonly string[] | undefined {
  if (kind === 'Pod') return [];
  if (TEMPLATE_KINDS.has(kind)) return ['spec', 'template'];
  if (kind === 'Rollout' && isArgo(obj)) return ['spec', 'template'];
  if (kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template'];
  return undefined;
}

const isMap = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const describe = (v: unknown) => (v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`);

/** Where the template is not what Kubernetes requires: the field (dotted, from the object) and what it holds. */
function templateProblem(template: unknown, path: readonly string[]): string | undefined {
  const at = (...rest: string[]) => [...path, ...rest].join('.');
  if (!isMap(template)) return `${at()} is ${describe(template)}, not a pod template`;
  const spec = template['spec'];
  if (!isMap(spec)) return `${at('spec')} is ${describe(spec)}, not a pod spec`;
  for (const field of ['containers', 'initContainers'] as const) {
    const list = spec[field];
    if (field === 'initContainers' && (list === undefined || list === null)) continue;
    if (!Array.isArray(list)) return `${at('spec', field)} is ${describe(list)}, not a list of containers`;
    const i = list.findIndex((c) => !isMap(c));
    if (i >= 0) return `${at('spec', field)}[${i}] is ${describe(list[i])}, not a container`;
  }
  return undefined;
}

/**
 * Applies `fn` to every pod template in `obj` (recursing into Lists); objects of other kinds are
 * returned as they are. Throws WorkloadShapeError for a workload whose template is malformed;
 * `note` hears about workloads passed through on purpose (an Argo Rollout with a workloadRef).
 */
export function mapPodTemplates(obj: Obj, fn: (visit: TemplateVisit) => PodLike, note: (ref: string, why: string) => void = () => undefined): Obj {
  const kind = typeof obj['kind'] === 'string' ? obj['kind'] : '';
  const name = (get(obj, ['metadata', 'name']) as string | undefined) ?? '';
  const namespace = get(obj, ['metadata', 'namespace']) as string | undefined;
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(obj['items']))) {
    return { ...obj, items: ((obj['items'] ?? []) as Obj[]).map((i) => (isMap(i) ? mapPodTemplates(i, fn, note) : i)) };
  }
  const path = templatePath(obj, kind);
  if (path === undefined) return obj;
  const ref = `${kind.toLowerCase()}/${name}`;
  if (kind === 'Rollout' && get(obj, ['spec', 'template']) === undefined && get(obj, ['spec', 'workloadRef']) !== undefined) {
    note(ref, 'not injected: it takes its pods from spec.workloadRef; inject the Deployment it names');
    return obj;
  }
  const template = path.length === 0 ? obj : get(obj, path);
  const problem = templateProblem(template, path);
  if (problem !== undefined) throw new WorkloadShapeError(`${ref}${namespace !== undefined ? ` (namespace ${namespace})` : ''}: ${problem}`);
  const next = fn({ ref, namespace, pod: template as PodLike });
  return path.length === 0 ? (next as unknown as Obj) : set(obj, path, next);
}
