/**
 * A podinfo-like backend for the routing scenarios: it answers with its NAME, so a client can see
 * which backend a route picked, and shows the request headers it received, so a client can see what
 * a header filter did.
 *
 *   GET /headers   the request headers as JSON
 *   anything else  {"name", "hostname", "method", "path"} as JSON; with `Accept: text/plain`,
 *                  `Name=`, `Hostname=`, `Method=`, `Path=` and one `RequestHeader=<name>:<value>` per header
 */
import os from 'node:os';

import type { PodinfoConfig } from './config.js';
import { answerProbe, sendJson, sendText, startServer, type Log, type RunningServer } from './http.js';

export interface PodinfoOptions extends PodinfoConfig {
  readonly log: Log;
  /** Defaults to os.hostname(): the pod name in Kubernetes. */
  readonly hostname?: string;
}

/** Header name/value pairs, in the order received (repeated headers as separate pairs). */
function headerPairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  return out;
}

export function startPodinfo(opts: PodinfoOptions): Promise<RunningServer> {
  const hostname = opts.hostname ?? os.hostname();
  return startServer(`podinfo ${opts.name}`, opts.port, async (req, res, url) => {
    if (answerProbe(res, url)) return;
    const headers = headerPairs(req.rawHeaders);
    // The body is not used; drain it so the connection can be reused.
    req.resume();
    if (url.pathname === '/headers') {
      const grouped: Record<string, string[]> = {};
      for (const [n, v] of headers) (grouped[n] ??= []).push(v);
      return sendJson(res, 200, grouped);
    }
    const info = { name: opts.name, hostname, method: req.method ?? 'GET', path: url.pathname };
    if ((req.headers.accept ?? '').includes('text/plain')) {
      const lines = [`Name=${info.name}`, `Hostname=${info.hostname}`, `Method=${info.method}`, `Path=${info.path}`, ...headers.map(([n, v]) => `RequestHeader=${n}:${v}`)];
      return sendText(res, 200, `${lines.join('\n')}\n`);
    }
    return sendJson(res, 200, info);
  }, opts.log);
}
