/**
 * Container environment, as the kubelet builds it: `envFrom` sources in order, then `env` entries in
 * order (later names win), each `value` expanded with `$(VAR)` against what is defined so far. Values
 * from fieldRef, resourceFieldRef, secretKeyRef and configMapKeyRef resolve against the pod and
 * pre-fetched objects (`EnvSources`), so this module is pure and fails with the kubelet's reason,
 * CreateContainerConfigError, when a required key is missing.
 */
import type { V1Container, V1ResourceRequirements } from '@kubernetes/client-node';
import type { Pod } from './types.js';

export interface EnvSources {
  /** Secret name -> decoded data (undefined: the secret does not exist). */
  readonly secret: (name: string) => Readonly<Record<string, string>> | undefined;
  readonly configMap: (name: string) => Readonly<Record<string, string>> | undefined;
  readonly nodeName: string;
  readonly hostIP: string;
  readonly podIP: string;
  /** Node allocatable, the value of resourceFieldRef when the container sets no limit. */
  readonly nodeAllocatable: { readonly cpu: string; readonly memory: string; readonly 'ephemeral-storage': string };
  /** Variables every container gets first (KUBERNETES_SERVICE_HOST, HOSTNAME, PATH ...). */
  readonly base: Readonly<Record<string, string>>;
}

export type EnvResult =
  | { readonly ok: true; readonly env: Record<string, string> }
  | { readonly ok: false; readonly reason: 'CreateContainerConfigError'; readonly message: string };

class ConfigError extends Error {}

/**
 * `$(VAR)` -> the value of VAR when defined, left as written otherwise; `$$` -> `$` (so `$$(VAR)` stays
 * literal). Matches the kubelet's expansion (k8s.io/kubernetes/third_party/forked/golang/expansion).
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = name === '' ? undefined : lookup(name);
      out += value ?? `$(${name})`;
      i = close;
      continue;
    }
    out += ch;
  }
  return out;
}

/** Resolves a downward API field path (`metadata.labels['app']`, `status.podIP`, ...). */
export function fieldPathValue(pod: Pod, path: string, src: Pick<EnvSources, 'nodeName' | 'hostIP' | 'podIP'>): string {
  const keyed = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (keyed !== null) {
    const map = keyed[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[keyed[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'metadata.labels': return formatMap(pod.metadata.labels);
    case 'metadata.annotations': return formatMap(pod.metadata.annotations);
    case 'spec.nodeName': return pod.spec.nodeName ?? src.nodeName;
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP': return src.podIP;
    case 'status.podIPs': return src.podIP;
    case 'status.hostIP': return src.hostIP;
    case 'status.hostIPs': return src.hostIP;
    default: throw new ConfigError(`unsupported fieldRef path ${JSON.stringify(path)}`);
  }
}

/** The downward API's map format: `key="value"` lines, sorted by key. */
export function formatMap(map: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(map ?? {}).sort().map((k) => `${k}=${JSON.stringify(map?.[k] ?? '')}`).join('\n');
}

/** Kubernetes quantity -> number in base units (cores for cpu, bytes for memory). */
export function parseQuantity(q: string): number {
  const m = /^([+-]?[0-9.]+(?:e[+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (m === null) throw new ConfigError(`invalid quantity ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const suffixes: Record<string, number> = {
    '': 1, m: 1e-3, n: 1e-9, u: 1e-6, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  const mult = suffixes[m[2] ?? ''];
  if (mult === undefined) throw new ConfigError(`invalid quantity suffix in ${JSON.stringify(q)}`);
  return n * mult;
}

/**
 * resourceFieldRef: the container's limit (or request for `requests.*`), falling back to node
 * allocatable for limits, divided by the divisor and rounded up, as the kubelet reports it.
 */
export function resourceFieldValue(
  resources: V1ResourceRequirements | undefined,
  resource: string,
  divisor: string | undefined,
  allocatable: EnvSources['nodeAllocatable'],
): string {
  const [kind, name] = resource.split('.') as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || (name !== 'cpu' && name !== 'memory' && name !== 'ephemeral-storage')) {
    throw new ConfigError(`unsupported resourceFieldRef ${JSON.stringify(resource)}`);
  }
  const set = kind === 'limits' ? resources?.limits : resources?.requests;
  const raw = set?.[name] ?? (kind === 'limits' ? allocatable[name] : name === 'cpu' ? '0' : '0');
  const value = parseQuantity(String(raw));
  const div = parseQuantity(divisor ?? '1');
  return String(Math.ceil(value / (div === 0 ? 1 : div)));
}

export function resolveEnv(pod: Pod, container: V1Container, src: EnvSources): EnvResult {
  try {
    const env: Record<string, string> = { ...src.base };
    const lookup = (name: string): string | undefined => (Object.hasOwn(env, name) ? env[name] : undefined);
    for (const from of container.envFrom ?? []) {
      const prefix = from.prefix ?? '';
      if (from.configMapRef !== undefined) {
        const data = src.configMap(from.configMapRef.name ?? '');
        if (data === undefined) {
          if (from.configMapRef.optional === true) continue;
          throw new ConfigError(`configmap ${JSON.stringify(from.configMapRef.name)} not found`);
        }
        for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
      } else if (from.secretRef !== undefined) {
        const data = src.secret(from.secretRef.name ?? '');
        if (data === undefined) {
          if (from.secretRef.optional === true) continue;
          throw new ConfigError(`secret ${JSON.stringify(from.secretRef.name)} not found`);
        }
        for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
      }
    }
    for (const e of container.env ?? []) {
      if (e.valueFrom === undefined) {
        env[e.name] = expandVars(e.value ?? '', lookup);
        continue;
      }
      const vf = e.valueFrom;
      if (vf.fieldRef !== undefined) {
        env[e.name] = fieldPathValue(pod, vf.fieldRef.fieldPath, src);
      } else if (vf.resourceFieldRef !== undefined) {
        const target = vf.resourceFieldRef.containerName === undefined || vf.resourceFieldRef.containerName === ''
          ? container
          : [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].find((c) => c.name === vf.resourceFieldRef?.containerName);
        env[e.name] = resourceFieldValue(target?.resources, vf.resourceFieldRef.resource, vf.resourceFieldRef.divisor === undefined ? undefined : String(vf.resourceFieldRef.divisor), src.nodeAllocatable);
      } else if (vf.secretKeyRef !== undefined) {
        const ref = vf.secretKeyRef;
        const value = src.secret(ref.name ?? '')?.[ref.key];
        if (value === undefined) {
          if (ref.optional === true) continue;
          throw new ConfigError(`couldn't find key ${ref.key} in Secret ${pod.metadata.namespace ?? 'default'}/${ref.name ?? ''}`);
        }
        env[e.name] = value;
      } else if (vf.configMapKeyRef !== undefined) {
        const ref = vf.configMapKeyRef;
        const value = src.configMap(ref.name ?? '')?.[ref.key];
        if (value === undefined) {
          if (ref.optional === true) continue;
          throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${pod.metadata.namespace ?? 'default'}/${ref.name ?? ''}`);
        }
        env[e.name] = value;
      }
    }
    return { ok: true, env };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, reason: 'CreateContainerConfigError', message: err.message };
    throw err;
  }
}

/** `$(VAR)` expansion of command and args against the container's final environment. */
export function expandArgv(argv: readonly string[], env: Readonly<Record<string, string>>): string[] {
  return argv.map((a) => expandVars(a, (n) => (Object.hasOwn(env, n) ? env[n] : undefined)));
}
