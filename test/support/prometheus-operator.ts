/**
 * The Prometheus Operator's PodMonitor CRD, for validating manifests/prometheus/podmonitor.yaml in the
 * real API server: upstream's generated CRD file from the Go module (downloaded once into the module
 * cache by `go mod download`, as the cluster builds do; nothing is built).
 */
import { join } from 'node:path';
import { run } from '../cluster/build.js';
import { GO_BINARY, PROMETHEUS_OPERATOR_MODULE_VERSION } from '../cluster/config.js';
import { REPO_ROOT } from './paths.js';

export const PROMETHEUS_OPERATOR_MODULE = 'github.com/prometheus-operator/prometheus-operator';

/** The path of monitoring.coreos.com_podmonitors.yaml of the pinned release. */
export async function podMonitorCrdFile(): Promise<string> {
  const r = await run(GO_BINARY, ['mod', 'download', '-json', `${PROMETHEUS_OPERATOR_MODULE}@${PROMETHEUS_OPERATOR_MODULE_VERSION}`], REPO_ROOT);
  const info = JSON.parse(r.stdout) as { Dir?: string; Error?: string };
  if (info.Dir === undefined) throw new Error(`go mod download ${PROMETHEUS_OPERATOR_MODULE}@${PROMETHEUS_OPERATOR_MODULE_VERSION}: ${info.Error ?? 'no Dir'}`);
  return join(info.Dir, 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_podmonitors.yaml');
}
