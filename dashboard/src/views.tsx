/** The page's views over the overview answer: problems, namespaces, a namespace, a workload, a route. */
import { useEffect, useState } from 'preact/hooks';
import { fetchRoute, type FiguresView, type Overview, type Problem, type RouteDetail, type RouteView, type WorkloadView } from './api.js';
import { latency, percent, perSecond, share } from './format.js';
import { namespaceHref, routeHref, workloadHref } from './links.js';
import { Sparkline } from './sparkline.js';

const FIGURE_HEADS = ['success', 'RPS', 'p50', 'p95', 'p99'];

function FigureCells({ f }: { f: FiguresView }) {
  return (
    <>
      <td data-field="success" class="num">{percent(f.successRate)}</td>
      <td data-field="rps" class="num">{perSecond(f.rps)}</td>
      <td data-field="p50" class="num">{latency(f.p50)}</td>
      <td data-field="p95" class="num">{latency(f.p95)}</td>
      <td data-field="p99" class="num">{latency(f.p99)}</td>
    </>
  );
}

const Heads = ({ names }: { names: readonly string[] }) => <thead><tr>{names.map((n) => <th scope="col" key={n}>{n}</th>)}</tr></thead>;

export function Problems({ problems }: { problems: readonly Problem[] }) {
  return (
    <section aria-labelledby="problems-title">
      <h2 id="problems-title">Problems {problems.length === 0 ? '(none)' : `(${problems.length})`}</h2>
      <ul class="problems" data-testid="problems">
        {problems.map((p) => (
          <li key={`${p.kind}:${p.subject}`} class={p.severity} data-kind={p.kind}>
            <strong>{p.severity === 'error' ? 'Error' : 'Warning'}</strong> {p.subject}: {p.message}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Namespaces({ o }: { o: Overview }) {
  return (
    <section aria-labelledby="ns-title">
      <h2 id="ns-title">Namespaces</h2>
      <table aria-label="Namespaces" data-testid="namespaces">
        <Heads names={['namespace', 'injection', 'workloads', 'meshed', ...FIGURE_HEADS]} />
        <tbody>
          {o.namespaces.filter((n) => n.pods > 0).map((n) => (
            <tr key={n.name} data-key={n.name}>
              <th scope="row"><a href={namespaceHref(n.name)}>{n.name}</a></th>
              <td>{n.injection}</td>
              <td class="num">{n.workloads}</td>
              <td class="num">{n.meshed}/{n.pods}</td>
              <FigureCells f={n.figures} />
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function WorkloadTable({ workloads, caption }: { workloads: readonly WorkloadView[]; caption: string }) {
  return (
    <table aria-label={caption} data-testid="workloads">
      <Heads names={['workload', 'meshed', ...FIGURE_HEADS, 'requests/s over time']} />
      <tbody>
        {workloads.map((w) => (
          <tr key={w.key} data-key={w.key}>
            <th scope="row"><a href={workloadHref(w.key)}>{w.name}</a></th>
            <td class="num">{w.meshed}/{w.pods}</td>
            <FigureCells f={w.figures} />
            <td><Sparkline points={w.spark} label={`${w.name} requests per second`} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function status(r: RouteView): string {
  if (r.accepted === null) return 'no status';
  return r.accepted && r.resolvedRefs !== false ? 'Accepted' : r.accepted ? 'unresolved refs' : 'not Accepted';
}

function RouteTable({ routes, caption }: { routes: readonly RouteView[]; caption: string }) {
  return (
    <table aria-label={caption} data-testid="routes">
      <Heads names={['route', 'parents', 'status', ...FIGURE_HEADS, 'requests/s over time']} />
      <tbody>
        {routes.map((r) => (
          <tr key={r.key} data-key={r.key}>
            <th scope="row"><a href={routeHref(r.key)}>{r.kind.toLowerCase()}/{r.name}</a></th>
            <td>{r.parents.join(', ')}</td>
            <td>{status(r)}</td>
            <FigureCells f={r.figures} />
            <td><Sparkline points={r.spark} label={`${r.name} requests per second`} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function NamespaceView({ o, ns }: { o: Overview; ns: string }) {
  return (
    <section aria-labelledby="nsview-title">
      <h2 id="nsview-title">Namespace {ns}</h2>
      <h3>Workloads</h3>
      <WorkloadTable workloads={o.workloads.filter((w) => w.namespace === ns)} caption={`Workloads in ${ns}`} />
      <h3>Routes</h3>
      <RouteTable routes={o.routes.filter((r) => r.namespace === ns)} caption={`Routes in ${ns}`} />
    </section>
  );
}

export function WorkloadPage({ o, wkey }: { o: Overview; wkey: string }) {
  const w = o.workloads.find((x) => x.key === wkey);
  if (w === undefined) return <p role="alert">No workload {wkey} (it may have gone).</p>;
  const routes = o.routes.filter((r) => r.workloads.includes(wkey));
  const edges = o.topology.edges.filter((e) => e.source === wkey || e.target === wkey);
  return (
    <section aria-labelledby="wl-title">
      <h2 id="wl-title">Workload {w.name} <small>in <a href={namespaceHref(w.namespace)}>{w.namespace}</a></small></h2>
      <WorkloadTable workloads={[w]} caption={`Workload ${w.name}`} />
      <h3>Routes to this workload</h3>
      {routes.length === 0 ? <p>No route sends traffic to this workload.</p> : <RouteTable routes={routes} caption={`Routes to ${w.name}`} />}
      <h3>Calls</h3>
      <table aria-label={`Calls to and from ${w.name}`}>
        <Heads names={['client', 'server', ...FIGURE_HEADS]} />
        <tbody>
          {edges.map((e) => (
            <tr key={e.id} data-edge={e.id}>
              <td><a href={workloadHref(e.source)}>{e.source}</a></td>
              <td><a href={workloadHref(e.target)}>{e.target}</a></td>
              <FigureCells f={e.figures} />
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function RoutePage({ rkey, windowSeconds, tick }: { rkey: string; windowSeconds: number; tick: number }) {
  const [detail, setDetail] = useState<RouteDetail | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    fetchRoute(rkey, windowSeconds).then((d) => { if (live) { setDetail(d); setError(undefined); } }, (e: unknown) => { if (live) setError((e as Error).message); });
    return () => { live = false; };
  }, [rkey, windowSeconds, tick]);
  if (error !== undefined) return <p role="alert">{error}</p>;
  if (detail === undefined) return <p aria-busy="true">Loading {rkey}...</p>;
  const d = detail;
  return (
    <section aria-labelledby="route-title" data-testid="route-detail">
      <h2 id="route-title">{d.kind} {d.name} <small>in <a href={namespaceHref(d.namespace)}>{d.namespace}</a>, parents {d.parents.join(', ')}</small></h2>
      <RouteTable routes={[d]} caption={`Route ${d.name}`} />
      <h3>Backends</h3>
      <table aria-label="Backends: configured weight and observed share" data-testid="backends">
        <Heads names={['backend', 'weight', 'configured share', 'observed share', ...FIGURE_HEADS]} />
        <tbody>
          {[...new Set([...d.rules.flatMap((r) => r.backends.map((b) => b.backend)), ...d.backends.map((b) => b.backend)])].map((name) => {
            const conf = d.rules.flatMap((r) => r.backends).find((b) => b.backend === name);
            const seen = d.backends.find((b) => b.backend === name);
            return (
              <tr key={name} data-key={name}>
                <th scope="row">{name}</th>
                <td class="num">{conf?.weight ?? '-'}</td>
                <td class="num" data-field="configured-share">{share(conf?.configuredShare ?? null)}</td>
                <td class="num" data-field="observed-share">{share(seen?.observedShare ?? null)}</td>
                <FigureCells f={seen?.figures ?? { requests: 0, rps: 0, successRate: null, deniedRps: 0, p50: null, p95: null, p99: null }} />
              </tr>
            );
          })}
        </tbody>
      </table>
      <h3>Rules</h3>
      <ol class="rules">
        {d.rules.map((r) => (
          <li key={r.index}>
            <p>Rule {r.index}{r.name !== null ? ` (${r.name})` : ''}: {r.matches.join(' or ')}</p>
            <p>Filters: {r.filters.length === 0 ? 'none' : r.filters.join('; ')}</p>
            <p>Timeouts: request {r.timeouts.request ?? 'none'}, backendRequest {r.timeouts.backendRequest ?? 'none'}</p>
            <p>Backends: {r.backends.map((b) => `${b.backend} weight ${b.weight}`).join(', ') || 'none'}</p>
          </li>
        ))}
      </ol>
      <h3>Status</h3>
      <table aria-label="Status conditions">
        <Heads names={['parent', 'condition', 'status', 'reason', 'message']} />
        <tbody>{d.conditions.map((c) => <tr key={`${c.parent}/${c.type}`}><td>{c.parent}</td><td>{c.type}</td><td>{c.status}</td><td>{c.reason}</td><td>{c.message}</td></tr>)}</tbody>
      </table>
      <h3>Authorization</h3>
      {d.authorization.map((a) => (
        <div key={a.backend} class="authz" data-backend={a.backend}>
          <h4>{a.backend}{a.pod !== null ? ` (pod ${a.pod}${a.port !== null ? ` port ${a.port}` : ''})` : ''}</h4>
          {a.note !== null && <p>{a.note}</p>}
          {a.server !== null || a.fallback !== null ? <p>Server: {a.server ?? 'none'}; without an allowing authorization: {a.fallback ?? '-'}</p> : null}
          {a.authorizations.length > 0 && (
            <ul>{a.authorizations.map((z) => <li key={z.name}>{z.name} on {z.target}{z.invalid !== null ? ` (cannot be enforced: ${z.invalid})` : ''}: allows {z.allows.join('; ') || 'nobody'}</li>)}</ul>
          )}
          <table aria-label={`Requests to ${a.backend} by client identity`} data-testid="authz-clients">
            <Heads names={['client identity', 'allowed', 'denied', 'allowed/s', 'denied/s']} />
            <tbody>
              {a.clients.map((c) => (
                <tr key={c.clientId} data-key={c.clientId}>
                  <th scope="row">{c.clientId}</th>
                  <td class="num">{Math.round(c.allowed)}</td>
                  <td class="num">{Math.round(c.denied)}</td>
                  <td class="num" data-field="allowed-rps">{perSecond(c.allowedRps)}</td>
                  <td class="num" data-field="denied-rps">{perSecond(c.deniedRps)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}
