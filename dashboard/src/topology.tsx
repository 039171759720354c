/**
 * The topology graph: workloads as nodes, who calls whom as edges labelled with RPS and success rate,
 * laid out and drawn by Cytoscape.js. Selecting a node opens its workload. The same edges are listed
 * in a table below for keyboard and screen-reader users.
 */
import cytoscape from 'cytoscape';
import { useEffect, useRef } from 'preact/hooks';
import type { Overview } from './api.js';
import { percent, perSecond } from './format.js';
import { workloadHref } from './links.js';

export function Topology({ topology }: { topology: Overview['topology'] }) {
  const el = useRef<HTMLDivElement>(null);
  const shape = JSON.stringify([topology.nodes.map((n) => n.id), topology.edges.map((e) => [e.id, perSecond(e.figures.rps), percent(e.figures.successRate)])]);
  useEffect(() => {
    const host = el.current;
    if (host === null) return undefined;
    const cy = cytoscape({
      container: host,
      elements: [
        ...topology.nodes.map((n) => ({ data: { id: n.id, label: `${n.name}\n${n.namespace}` }, classes: n.meshed ? 'meshed' : 'unmeshed' })),
        ...topology.edges.map((e) => ({ data: { id: e.id, source: e.source, target: e.target, label: `${perSecond(e.figures.rps)} · ${percent(e.figures.successRate)}` }, classes: (e.figures.successRate ?? 1) < 0.95 ? 'failing' : 'healthy' })),
      ],
      // cose (force-directed) keeps edges from running through nodes of the same rank.
      layout: { name: 'cose', animate: false, padding: 30, idealEdgeLength: () => 160, nodeRepulsion: () => 400_000 },
      style: [
        { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4, 'background-color': '#2563eb', width: 22, height: 22 } },
        { selector: 'node.unmeshed', style: { 'background-color': '#9ca3af' } },
        { selector: 'edge', style: { label: 'data(label)', 'font-size': 10, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', width: 2, 'line-color': '#16a34a', 'target-arrow-color': '#16a34a', 'text-background-color': '#fff', 'text-background-opacity': 0.85, 'text-background-padding': '2px' } },
        { selector: 'edge.failing', style: { 'line-color': '#dc2626', 'target-arrow-color': '#dc2626' } },
      ],
      userZoomingEnabled: true,
      boxSelectionEnabled: false,
    });
    cy.on('tap', 'node', (ev) => { location.hash = workloadHref(String(ev.target.id())); });
    return () => cy.destroy();
    // Redraw only when the graph or its labels change, not on every poll.
  }, [shape]);
  const summary = `Topology: ${topology.nodes.length} workloads, ${topology.edges.length} edges; the table below lists every edge`;
  return (
    <section aria-labelledby="topology-title">
      <h2 id="topology-title">Topology</h2>
      <div class="graph" ref={el} role="img" aria-label={summary} data-testid="topology-graph" />
      <table aria-label="Edges: who calls whom">
        <thead><tr><th scope="col">client</th><th scope="col">server</th><th scope="col">RPS</th><th scope="col">success</th></tr></thead>
        <tbody>
          {topology.edges.map((e) => (
            <tr key={e.id} data-edge={e.id}>
              <td><a href={workloadHref(e.source)}>{e.source}</a></td>
              <td><a href={workloadHref(e.target)}>{e.target}</a></td>
              <td data-field="rps">{perSecond(e.figures.rps)}</td>
              <td data-field="success">{percent(e.figures.successRate)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
