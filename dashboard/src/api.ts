/**
 * The JSON the dashboard server answers (cli/dashboard/server.ts). The shapes are those of
 * cli/dashboard/model.ts, imported as types only: nothing of the CLI is bundled.
 */
import type { Overview, RouteDetail } from '../../cli/dashboard/model.js';

export type { FiguresView, NamespaceView, Overview, Point, Problem, RouteDetail, RouteView, TopologyEdge, WorkloadView } from '../../cli/dashboard/model.js';

export interface Status {
  readonly source: 'scrape' | 'prometheus';
  readonly scrapes: number;
  readonly lastScrape: number | null;
  readonly intervalSeconds: number;
  readonly errors: readonly string[];
}

export type OverviewAnswer = ({ readonly ready: true } & Overview & { readonly status: Status }) | { readonly ready: false; readonly status: Status; readonly message: string };

export interface ExplainAnswer {
  readonly text: string;
  readonly explanation: ExplanationJson;
}

/** `weft explain -o json`'s shape, as far as the page reads it. */
export type ExplanationJson =
  | { readonly ok: false; readonly error: string }
  | {
      readonly ok: true;
      readonly outcome: string;
      readonly message?: string;
      readonly route?: { readonly kind: string; readonly namespace: string; readonly name: string; readonly rule: number; readonly filters: readonly string[]; readonly timeouts: string };
      readonly backends: readonly {
        readonly target: string;
        readonly share: number;
        readonly server?: {
          readonly note?: string;
          readonly candidates: readonly string[];
          readonly decision?: { readonly allowed: boolean; readonly reason: string; readonly status?: number; readonly server?: string; readonly route?: string; readonly authorization?: { readonly kind: string; readonly name: string } };
        };
      }[];
    };

async function answer<T>(r: Response): Promise<T> {
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
  return body;
}

export const fetchOverview = async (windowSeconds: number): Promise<OverviewAnswer> => answer(await fetch(`/api/overview?window=${windowSeconds}`));

export const fetchRoute = async (key: string, windowSeconds: number): Promise<RouteDetail> =>
  answer(await fetch(`/api/route?key=${encodeURIComponent(key)}&window=${windowSeconds}`));

export interface ExplainForm {
  readonly namespace: string;
  readonly pod?: string;
  readonly serviceAccount?: string;
  readonly method: string;
  readonly url: string;
  readonly headers: readonly string[];
}

export const postExplain = async (form: ExplainForm): Promise<ExplainAnswer> =>
  answer(await fetch('/api/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(form) }));
