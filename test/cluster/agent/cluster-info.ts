/**
 * `<stateDir>/cluster.json`, written by the control plane before it starts the agent: the agent's only
 * input besides its flags. Every field is checked at once and all problems are reported together.
 */
import { readFileSync } from 'node:fs';

export interface ClusterInfo {
  readonly version: string;
  readonly stateDir: string;
  readonly logDir: string;
  readonly binDir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly caFile: string;
  readonly nodeName: string;
  readonly simNodeName: string;
  readonly nodeIP: string;
  readonly bridge: string;
  readonly podCIDR: string;
  readonly simPodCIDR: string;
  readonly serviceCIDR: string;
  readonly clusterDNS: string;
  readonly clusterDomain: string;
  readonly repoRoot: string;
  readonly nodeBinary: string;
}

const FIELDS = ['version', 'stateDir', 'logDir', 'binDir', 'kubeconfig', 'server', 'caFile', 'nodeName', 'simNodeName', 'nodeIP', 'bridge',
  'podCIDR', 'simPodCIDR', 'serviceCIDR', 'clusterDNS', 'clusterDomain', 'repoRoot', 'nodeBinary'] as const;

export function parseClusterInfo(json: unknown, source: string): ClusterInfo {
  if (typeof json !== 'object' || json === null) throw new Error(`${source}: not a JSON object`);
  const o = json as Record<string, unknown>;
  const missing = FIELDS.filter((f) => typeof o[f] !== 'string' || o[f] === '');
  if (missing.length > 0) throw new Error(`${source}: missing or empty string fields: ${missing.join(', ')}`);
  return Object.freeze(Object.fromEntries(FIELDS.map((f) => [f, o[f] as string]))) as unknown as ClusterInfo;
}

export function readClusterInfo(path: string): ClusterInfo {
  return parseClusterInfo(JSON.parse(readFileSync(path, 'utf8')) as unknown, path);
}
