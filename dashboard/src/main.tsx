/**
 * The Weft dashboard's page: polls /api/overview every few seconds and renders the view the URL's
 * hash names (links.ts). Every control is a link, button or labelled form field, so the page works
 * from the keyboard; charts and the graph carry text equivalents.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { fetchOverview, type OverviewAnswer } from './api.js';
import { ExplainPage } from './explain.js';
import { parseHash, type View } from './links.js';
import { Topology } from './topology.js';
import { Namespaces, NamespaceView, Problems, RoutePage, WorkloadPage } from './views.js';

const WINDOWS = [10, 30, 60, 300, 600];
const POLL_MS = 5000;

function useHash(): View {
  const [view, setView] = useState(parseHash(location.hash));
  useEffect(() => {
    const on = () => setView(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return view;
}

function App() {
  const view = useHash();
  const [windowSeconds, setWindowSeconds] = useState(30);
  const [data, setData] = useState<OverviewAnswer | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const load = () => fetchOverview(windowSeconds).then((d) => { if (live) { setData(d); setError(undefined); setTick((t) => t + 1); } }, (e: unknown) => { if (live) setError((e as Error).message); });
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => { live = false; clearInterval(timer); };
  }, [windowSeconds]);

  const nav: [string, string, View['kind'][]][] = [['#/', 'Overview', ['overview', 'namespace', 'workload', 'route']], ['#/topology', 'Topology', ['topology']], ['#/explain', 'Explain', ['explain']]];
  const o = data?.ready === true ? data : undefined;
  const defaultNs = view.kind === 'namespace' ? view.ns : o?.namespaces.find((n) => n.injection === 'enabled')?.name ?? 'default';
  return (
    <>
      <header>
        <h1>Weft</h1>
        <nav aria-label="Views">
          {nav.map(([href, label, kinds]) => <a key={href} href={href} aria-current={kinds.includes(view.kind) ? 'page' : undefined}>{label}</a>)}
        </nav>
        <label class="window">Window
          <select aria-label="Window the figures cover" value={windowSeconds} onChange={(ev) => setWindowSeconds(Number(ev.currentTarget.value))}>
            {WINDOWS.map((w) => <option key={w} value={w}>{w < 60 ? `${w}s` : `${w / 60}m`}</option>)}
          </select>
        </label>
        <p class="status" aria-live="polite" data-testid="status">
          {data === undefined ? 'Connecting...' : `${data.status.source === 'prometheus' ? 'Prometheus' : 'proxy scrapes'} every ${data.status.intervalSeconds}s${o !== undefined ? `; figures over ${o.windowSeconds.toFixed(0)}s` : ''}${data.status.lastScrape !== null ? `; last read ${new Date(data.status.lastScrape).toLocaleTimeString()}` : ''}`}
        </p>
      </header>
      <main>
        {error !== undefined && <p role="alert" class="error">Cannot reach the dashboard server: {error}</p>}
        {data !== undefined && data.status.errors.length > 0 && <details class="errors"><summary>{data.status.errors.length} read problem(s)</summary><ul>{data.status.errors.map((e) => <li key={e}>{e}</li>)}</ul></details>}
        {view.kind === 'explain' ? <ExplainPage defaultNamespace={defaultNs} />
          : data !== undefined && !data.ready ? <p aria-busy="true">{data.message}</p>
          : o === undefined ? <p aria-busy="true">Loading...</p>
          : view.kind === 'overview' ? <><Problems problems={o.problems} /><Namespaces o={o} /></>
          : view.kind === 'namespace' ? <NamespaceView o={o} ns={view.ns} />
          : view.kind === 'workload' ? <WorkloadPage o={o} wkey={view.key} />
          : view.kind === 'route' ? <RoutePage rkey={view.key} windowSeconds={windowSeconds} tick={tick} />
          : <Topology topology={o.topology} />}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}
