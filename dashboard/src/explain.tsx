/** The explain form: runs `weft explain`'s code on the server for one client and request. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { postExplain, type ExplainAnswer } from './api.js';

/** A labelled form field: the label names the control alone (not its value), for screen readers. */
function Field({ id, label, wide, children }: { id: string; label: string; wide?: boolean; children: ComponentChildren }) {
  return <div class={wide === true ? 'field wide' : 'field'}><label for={id}>{label}</label>{children}</div>;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function ExplainPage({ defaultNamespace }: { defaultNamespace: string }) {
  const [namespace, setNamespace] = useState(defaultNamespace);
  const [clientKind, setClientKind] = useState<'pod' | 'serviceAccount'>('serviceAccount');
  const [client, setClient] = useState('');
  const [method, setMethod] = useState('GET');
  const [url, setUrl] = useState('');
  const [headers, setHeaders] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ExplainAnswer | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setResult(await postExplain({
        namespace: namespace.trim(), method, url: url.trim(),
        headers: headers.split('\n').map((h) => h.trim()).filter((h) => h !== ''),
        ...(clientKind === 'pod' ? { pod: client.trim() } : { serviceAccount: client.trim() }),
      }));
    } catch (e) {
      setResult(undefined);
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const e = result?.explanation;
  return (
    <section aria-labelledby="explain-title">
      <h2 id="explain-title">Explain a request</h2>
      <form class="explain" onSubmit={(ev) => void submit(ev)} aria-describedby="explain-help">
        <p id="explain-help">Runs the proxies' own route and authorization decisions on the live cluster state, as <code>weft explain</code> does.</p>
        <Field id="explain-namespace" label="Client namespace"><input id="explain-namespace" name="namespace" value={namespace} onInput={(ev) => setNamespace(ev.currentTarget.value)} required /></Field>
        <Field id="explain-kind" label="Client is a">
          <select id="explain-kind" name="clientKind" value={clientKind} onChange={(ev) => setClientKind(ev.currentTarget.value === 'pod' ? 'pod' : 'serviceAccount')}>
            <option value="serviceAccount">ServiceAccount</option>
            <option value="pod">pod</option>
          </select>
        </Field>
        <Field id="explain-client" label="Client name"><input id="explain-client" name="client" value={client} onInput={(ev) => setClient(ev.currentTarget.value)} required placeholder="books" /></Field>
        <Field id="explain-method" label="Method">
          <select id="explain-method" name="method" value={method} onChange={(ev) => setMethod(ev.currentTarget.value)}>
            {METHODS.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </Field>
        <Field id="explain-url" label="URL" wide><input id="explain-url" name="url" value={url} onInput={(ev) => setUrl(ev.currentTarget.value)} required placeholder="http://authors.booksapp.svc.cluster.local:7001/authors/1.json" /></Field>
        <Field id="explain-headers" label='Headers, one "Name: value" per line' wide><textarea id="explain-headers" name="headers" rows={2} value={headers} onInput={(ev) => setHeaders(ev.currentTarget.value)} /></Field>
        <button type="submit" disabled={busy}>{busy ? 'Explaining...' : 'Explain'}</button>
      </form>
      {error !== undefined && <p role="alert" class="error" data-testid="explain-error">{error}</p>}
      {e !== undefined && (
        <div aria-live="polite" data-testid="explain-result">
          {!e.ok ? <p role="alert" class="error">{e.error}</p> : (
            <>
              <p>Client side: {e.route !== undefined ? `${e.route.kind} ${e.route.namespace}/${e.route.name}, rule ${e.route.rule}; filters ${e.route.filters.join('; ') || 'none'}; timeouts ${e.route.timeouts}` : e.message ?? e.outcome}</p>
              <ul>
                {e.backends.map((b) => {
                  const d = b.server?.decision;
                  return (
                    <li key={b.target} data-backend={b.target}>
                      <strong>{b.target}</strong> ({(b.share * 100).toFixed(1)}%):{' '}
                      {d === undefined ? (b.server?.note ?? 'no server decision') : (
                        <>
                          <span class={d.allowed ? 'allowed' : 'denied'} data-testid="decision">{d.allowed ? 'ALLOWED' : `DENIED (${d.status ?? ''})`}</span>
                          {' '}by server {d.server ?? 'none (default policy)'}, route {d.route ?? 'none'}, authorization {d.authorization?.name ?? 'none'}. <span data-testid="reason">Reason: {d.reason}</span>
                          {(b.server?.candidates.length ?? 0) > 0 && <ul>{b.server?.candidates.map((c) => <li key={c}>{c}</li>)}</ul>}
                        </>
                      )}
                    </li>
                  );
                })}
              </ul>
            </>
          )}
          <details><summary>weft explain output</summary><pre>{result?.text}</pre></details>
        </div>
      )}
    </section>
  );
}
