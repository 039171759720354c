/**
 * Raw JSON requests to the API server with the kubeconfig's credentials. The watch layer lists
 * with these (plain JSON, the same shape watch events carry, unlike the generated API classes,
 * which turn timestamps into Dates), and the status writer and the Lease use them to PATCH/PUT.
 */
import { RequestContext, HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';

export class KubeHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeHttpError';
  }
}

export interface KubeResponse<T> {
  readonly status: number;
  readonly body: T;
}

const METHODS = { GET: HttpMethod.GET, POST: HttpMethod.POST, PUT: HttpMethod.PUT, PATCH: HttpMethod.PATCH, DELETE: HttpMethod.DELETE } as const;

/** Sends one request; throws KubeHttpError for a non-2xx answer (statusCode, Status.reason). */
export async function kubeRequest<T>(
  kc: KubeConfig,
  method: keyof typeof METHODS,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  timeoutMs = 30_000,
): Promise<KubeResponse<T>> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const url = cluster.server.replace(/\/$/, '') + path;
  const ctx = new RequestContext(url, METHODS[method]);
  await kc.applySecurityAuthentication(ctx);
  const headers: Record<string, string> = { ...ctx.getHeaders(), accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(url, {
    method,
    headers,
    dispatcher: ctx.getDispatcher() as never,
    signal: AbortSignal.timeout(timeoutMs),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status < 200 || res.status > 299) {
    const st = json as { reason?: string; message?: string } | undefined;
    throw new KubeHttpError(res.status, st?.reason ?? '', `${method} ${path}: ${res.status} ${st?.message ?? text.slice(0, 200)}`);
  }
  return { status: res.status, body: json as T };
}
