/**
 * Finds the pod (template) inside each kind of workload `weft inject` and `weft uninject` accept, and
 * rebuilds the object around a changed one. Pure.
 *
 *   Pod -> itself;  Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job
 *   -> spec.template;  CronJob -> spec.jobTemplate.spec.template;  List -> each item
 */
import type { PodLike } from '../../injector/pod.js';

export type Obj = Record<string, unknown>;

export interface TemplateVisit {
  /** e.g. deployment/web */
  readonly ref: string;
  readonly namespace: string | undefined;
  readonly pod: PodLike;
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

function templatePath(kind: string): readonly string[] | undefined {
  if (kind === 'Pod') return [];
  if (TEMPLATE_KINDS.has(kind)) return ['spec', 'template'];
  if (kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template'];
  return undefined;
}

/**
 * Applies `fn` to every pod template in `obj` (recursing into Lists); objects of other kinds are
 * returned as they are and reported through `onOther`.
 */
export function mapPodTemplates(obj: Obj, fn: (visit: TemplateVisit) => PodLike, onOther: (ref: string) => void = () => undefined): Obj {
  const kind = typeof obj['kind'] === 'string' ? obj['kind'] : '';
  const name = (get(obj, ['metadata', 'name']) as string | undefined) ?? '';
  const namespace = get(obj, ['metadata', 'namespace']) as string | undefined;
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(obj['items']))) {
    return { ...obj, items: ((obj['items'] ?? []) as Obj[]).map((i) => mapPodTemplates(i, fn, onOther)) };
  }
  const path = templatePath(kind);
  const ref = `${kind.toLowerCase()}/${name}`;
  const template = path === undefined ? undefined : path.length === 0 ? obj : get(obj, path);
  const spec = get(template, ['spec']) as { containers?: unknown } | undefined;
  if (path === undefined || template === undefined || !Array.isArray(spec?.containers)) {
    onOther(ref === '/' ? '(an object without kind)' : ref);
    return obj;
  }
  const next = fn({ ref, namespace, pod: template as PodLike });
  return path.length === 0 ? (next as unknown as Obj) : set(obj, path, next);
}
