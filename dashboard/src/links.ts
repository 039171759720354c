/** The page's hash routes. */
export const namespaceHref = (ns: string) => `#/ns/${encodeURIComponent(ns)}`;
export const workloadHref = (key: string) => `#/workload/${encodeURIComponent(key)}`;
export const routeHref = (key: string) => `#/route/${encodeURIComponent(key)}`;

export type View =
  | { readonly kind: 'overview' }
  | { readonly kind: 'namespace'; readonly ns: string }
  | { readonly kind: 'workload'; readonly key: string }
  | { readonly kind: 'route'; readonly key: string }
  | { readonly kind: 'topology' }
  | { readonly kind: 'explain' };

export function parseHash(hash: string): View {
  const [, kind = '', arg = ''] = /^#\/([a-z]*)\/?(.*)$/.exec(hash) ?? [];
  const value = decodeURIComponent(arg);
  switch (kind) {
    case 'ns': return { kind: 'namespace', ns: value };
    case 'workload': return { kind: 'workload', key: value };
    case 'route': return { kind: 'route', key: value };
    case 'topology': return { kind: 'topology' };
    case 'explain': return { kind: 'explain' };
    default: return { kind: 'overview' };
  }
}
