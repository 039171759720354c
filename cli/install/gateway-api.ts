/**
 * Which Gateway API release the cluster has, read from the CRDs' bundle-version annotation, and
 * whether Weft supports it. Pure; install and check fetch the CRDs.
 *
 * Weft reads HTTPRoute and GRPCRoute at v1 and ReferenceGrant at v1beta1 and is tested against
 * v1.7.0 (../shared/gateway-api); v1.4 is the oldest release whose standard channel has everything
 * the mesh profile needs here. A future v2 may change the kinds: refused until tested. Any other v1
 * release passes, and the verdict's detail says how it stands against the tested one (an older
 * schema lacks fields such as v1.7's HTTPRoute `retry`; a newer one may carry fields Weft does not
 * know, which routes then report in their status instead of being ignored).
 */
import { GATEWAY_API_GROUP } from '../../core/contract.js';

export const BUNDLE_VERSION_ANNOTATION = `${GATEWAY_API_GROUP}/bundle-version`;
export const MIN_GATEWAY_API = { major: 1, minor: 4 } as const;
export const TESTED_GATEWAY_API = 'v1.7.0';
export const REQUIRED_GATEWAY_CRDS = [`httproutes.${GATEWAY_API_GROUP}`, `grpcroutes.${GATEWAY_API_GROUP}`] as const;

export const GATEWAY_API_INSTALL_HINT =
  `install the Gateway API CRDs (standard channel, ${TESTED_GATEWAY_API} tested): kubectl apply --server-side -f ` +
  `https://github.com/kubernetes-sigs/gateway-api/releases/download/${TESTED_GATEWAY_API}/standard-install.yaml`;

export interface CrdLike {
  readonly metadata?: { readonly name?: string | undefined; readonly annotations?: Readonly<Record<string, string>> | undefined } | undefined;
}

export type GatewayApiVerdict =
  | { readonly ok: true; readonly version: string; readonly detail: string }
  | { readonly ok: false; readonly problem: string; readonly hint: string };

export function parseBundleVersion(v: string): { major: number; minor: number; patch: number } | undefined {
  const m = /^v(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$/.exec(v.trim());
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** `crds` maps each required CRD name to the object read from the cluster, or undefined when absent. */
export function judgeGatewayApi(crds: Readonly<Record<string, CrdLike | undefined>>): GatewayApiVerdict {
  const missing = REQUIRED_GATEWAY_CRDS.filter((n) => crds[n] === undefined);
  if (missing.length > 0) return { ok: false, problem: `the Gateway API CRDs ${missing.join(', ')} are not installed`, hint: GATEWAY_API_INSTALL_HINT };
  const versions = new Set<string>();
  for (const name of REQUIRED_GATEWAY_CRDS) {
    const v = crds[name]?.metadata?.annotations?.[BUNDLE_VERSION_ANNOTATION];
    if (v === undefined) {
      return { ok: false, problem: `CRD ${name} has no ${BUNDLE_VERSION_ANNOTATION} annotation, so its release is unknown`, hint: GATEWAY_API_INSTALL_HINT };
    }
    const parsed = parseBundleVersion(v);
    if (parsed === undefined) return { ok: false, problem: `CRD ${name}: bundle version ${JSON.stringify(v)} is not vX.Y.Z`, hint: GATEWAY_API_INSTALL_HINT };
    if (parsed.major !== MIN_GATEWAY_API.major || parsed.minor < MIN_GATEWAY_API.minor) {
      return {
        ok: false,
        problem: `Gateway API ${v} (CRD ${name}) is not supported: Weft needs v${MIN_GATEWAY_API.major}.${MIN_GATEWAY_API.minor}.0 or newer within v${MIN_GATEWAY_API.major}`,
        hint: GATEWAY_API_INSTALL_HINT,
      };
    }
    versions.add(v);
  }
  if (versions.size > 1) {
    return { ok: false, problem: `the Gateway API CRDs come from different releases (${[...versions].join(', ')})`, hint: GATEWAY_API_INSTALL_HINT };
  }
  const version = [...versions][0] ?? '';
  return { ok: true, version, detail: againstTested(version) };
}

/** `v1.7.0`, or the version with how it compares to the tested release. */
export function againstTested(version: string): string {
  const v = parseBundleVersion(version);
  const t = parseBundleVersion(TESTED_GATEWAY_API);
  if (v === undefined || t === undefined) return version;
  const order = v.minor - t.minor || v.patch - t.patch;
  if (order === 0) return version;
  if (order < 0) return `${version} (older than ${TESTED_GATEWAY_API}, the release Weft is tested with; upgrade for the newer fields such as HTTPRoute retry)`;
  return `${version} (newer than ${TESTED_GATEWAY_API}, the release Weft is tested with; a route field Weft does not know is reported in the route's status)`;
}
