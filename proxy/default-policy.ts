/**
 * The policy hook used until the policy watches are wired (the next task fills PolicyHook from the
 * controller's inbound and outbound policy): outbound forwards to the Service port the app dialled
 * (what "no route attached" means); inbound applies the pod's default inbound policy
 * (design.md section 4) to every port:
 *
 *   all-unauthenticated, audit  allow
 *   all-authenticated           allow a verified mesh identity
 *   cluster-unauthenticated     allow clients from the cluster networks
 *   cluster-authenticated       allow a verified identity from the cluster networks
 *   deny                        deny
 *
 * Kubelet probes from the probe networks are allowed whatever the default (design.md section 4).
 */
import { compileCidrList, networkSetContains, parseIp } from '../core/cidr.js';
import type { NetworkSet } from '../core/cidr.js';
import type { DefaultInboundPolicy } from './config.js';
import type { InboundAction, PolicyHook } from './policy-hook.js';

const ALLOW: InboundAction = Object.freeze({ kind: 'allow' });
const DENY: InboundAction = Object.freeze({ kind: 'deny', code: 'FORBIDDEN' });

function networks(cidrs: readonly string[]): NetworkSet {
  const r = compileCidrList(cidrs);
  if (!r.ok) throw new Error(`invalid networks: ${r.reason}`);
  return r.networks;
}

function inSet(set: NetworkSet, ip: string): boolean {
  const plain = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  const parsed = parseIp(plain);
  return parsed !== undefined && networkSetContains(set, parsed);
}

export function defaultPolicyHook(o: { policy: DefaultInboundPolicy; clusterNetworks: readonly string[]; probeNetworks: readonly string[] }): PolicyHook {
  const cluster = networks(o.clusterNetworks);
  const probes = networks(o.probeNetworks);
  return {
    outbound: { route: (ctx) => ({ kind: 'forward', backend: ctx.target }) },
    inbound: {
      authorize(ctx, req) {
        if (req !== null && probes.entries.length > 0 && inSet(probes, ctx.clientIp)) return ALLOW;
        switch (o.policy) {
          case 'all-unauthenticated':
          case 'audit':
            return ALLOW;
          case 'all-authenticated':
            return ctx.peerIdentity !== undefined ? ALLOW : DENY;
          case 'cluster-unauthenticated':
            return inSet(cluster, ctx.clientIp) ? ALLOW : DENY;
          case 'cluster-authenticated':
            return ctx.peerIdentity !== undefined && inSet(cluster, ctx.clientIp) ? ALLOW : DENY;
          case 'deny':
            return DENY;
        }
      },
    },
  };
}
