/**
 * The Grafana dashboard in manifests/grafana/ as its PromQL queries, with Grafana's variables replaced
 * the way Grafana would for a chosen value, so tests can run every query against a real Prometheus
 * (test/e2e/cli-prometheus.test.ts) and check them statically (grafana.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export const DASHBOARD = join(REPO_ROOT, 'manifests', 'grafana', 'weft-routes.json');

export interface DashboardQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

interface Dashboard {
  panels?: { title?: string; targets?: { expr?: string; refId?: string }[] }[];
  templating?: { list?: { name: string }[] };
}

export function readDashboard(path: string = DASHBOARD): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** Every panel target's expression, raw (with `$variables`). */
export function dashboardQueries(dashboard: Dashboard = readDashboard()): DashboardQuery[] {
  return (dashboard.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? '?', refId: t.refId ?? '?', expr: t.expr ?? '' })));
}

/**
 * Replaces `$name` / `${name}` as Grafana does before sending a query: `$__rate_interval` by a range,
 * template variables by the given values (regex alternatives for `=~`). Unknown variables are an error.
 */
export function substitute(expr: string, vars: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const v = vars[name];
    if (v === undefined) throw new Error(`the dashboard query uses ${m}, which the test gave no value for: ${expr}`);
    return v;
  });
}
