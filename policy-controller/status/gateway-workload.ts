/**
 * The gateway proxies the controller deploys: for each Gateway of an accepted Weft class, the
 * ServiceAccount, Deployment (`weft gateway`) and LoadBalancer Service that core/gateway/render.ts
 * renders, server-side applied (field manager `weft-gateway-controller`, forced: the controller owns
 * these objects; each has an owner reference to its Gateway, so deleting the Gateway deletes them).
 *
 * It also observes what serves each Gateway (GatewayRuntime): the Service's address
 * (core gatewayAddresses: the load balancer's ingress, else the ClusterIP) and whether the
 * Deployment has an available replica. The status writer (./gateway-writer.ts) runs it in its pass,
 * as the leader only, and writes status.addresses and Programmed from the runtime.
 *
 * An object is applied again only when its rendering changed since this process last applied it (a
 * restart applies everything once). Failures are logged and retried on the next pass.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { GatewayRuntime, ListenerEvaluation } from '../../core/gateway/evaluate.js';
import { gatewayAddresses, gatewayWorkloadName, renderGatewayWorkload, type GatewayWorkloadOptions } from '../../core/gateway/render.js';
import type { Gateway } from '../../core/gateway/types.js';
import type { KubeObject, Service } from '../../core/kube.js';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';

export const GATEWAY_FIELD_MANAGER = 'weft-gateway-controller';

const PATHS: Readonly<Record<string, (ns: string, name: string) => string>> = {
  ServiceAccount: (ns, name) => `/api/v1/namespaces/${ns}/serviceaccounts/${name}`,
  Deployment: (ns, name) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`,
  Service: (ns, name) => `/api/v1/namespaces/${ns}/services/${name}`,
};

export interface GatewayWorkloadsOptions {
  readonly kc: KubeConfig;
  /** Everything the Deployment needs but the Gateway; read per pass (the trust anchors may rotate). */
  readonly render: () => GatewayWorkloadOptions;
  readonly log: Logger;
}

export class GatewayWorkloads {
  private readonly applied = new Map<string, string>();
  private readonly runtimes = new Map<string, GatewayRuntime>();

  constructor(private readonly o: GatewayWorkloadsOptions) {}

  /** What serves the Gateway, as last observed; not ready and unaddressed before the first observation. */
  runtime(namespace: string, name: string): GatewayRuntime {
    return this.runtimes.get(`${namespace}/${name}`) ?? { ready: false };
  }

  /**
   * Applies each served Gateway's objects when their rendering changed, then observes their runtime.
   * Returns whether any runtime changed (the status must be computed again).
   */
  async sync(served: ReadonlyMap<string, { readonly gateway: Gateway; readonly listeners: readonly ListenerEvaluation[] }>): Promise<boolean> {
    let changed = false;
    const options = this.o.render();
    await Promise.all([...served].map(async ([key, { gateway, listeners }]) => {
      const uid = gateway.metadata.uid;
      if (uid === undefined) return;
      const ns = gateway.metadata.namespace ?? 'default';
      for (const obj of renderGatewayWorkload({ ...gateway, metadata: { ...gateway.metadata, uid } }, listeners, options)) {
        const objKey = `${obj.kind}/${ns}/${obj.metadata.name}`;
        const text = JSON.stringify(obj);
        if (this.applied.get(objKey) === text) continue;
        try {
          await this.apply(obj);
          this.applied.set(objKey, text);
        } catch (err) {
          this.applied.delete(objKey);
          this.o.log.warn({ kind: obj.kind, namespace: ns, name: obj.metadata.name, err: (err as Error).message }, 'applying a gateway object failed; retrying on the next pass');
        }
      }
      const next = await this.observe(ns, gatewayWorkloadName(gateway.metadata.name));
      const before = this.runtimes.get(key);
      if (before?.ready !== next.ready || before.address !== next.address || before.addressType !== next.addressType) changed = true;
      this.runtimes.set(key, next);
    }));
    for (const key of [...this.runtimes.keys()]) if (!served.has(key)) this.runtimes.delete(key);
    return changed;
  }

  /** Whether some served Gateway is not ready yet (the writer then looks again shortly: Deployments are not watched). */
  get pending(): boolean {
    return [...this.runtimes.values()].some((r) => !r.ready || r.address === undefined);
  }

  private async apply(obj: KubeObject): Promise<void> {
    const path = `${PATHS[obj.kind ?? '']!(obj.metadata.namespace ?? 'default', obj.metadata.name)}?fieldManager=${GATEWAY_FIELD_MANAGER}&force=true`;
    await kubeRequest(this.o.kc, 'PATCH', path, obj, 'application/apply-patch+yaml');
  }

  private async observe(ns: string, name: string): Promise<GatewayRuntime> {
    const get = async <T>(kind: string): Promise<T | undefined> => {
      try {
        return (await kubeRequest<T>(this.o.kc, 'GET', PATHS[kind]!(ns, name))).body;
      } catch (err) {
        if (!(err instanceof KubeHttpError && err.statusCode === 404)) this.o.log.warn({ kind, namespace: ns, name, err: (err as Error).message }, 'reading a gateway object failed');
        return undefined;
      }
    };
    const [deployment, service] = await Promise.all([get<{ status?: { availableReplicas?: number } }>('Deployment'), get<Service>('Service')]);
    const address = gatewayAddresses(service)[0];
    return {
      ready: (deployment?.status?.availableReplicas ?? 0) > 0,
      ...(address !== undefined ? { address: address.value, addressType: address.type } : {}),
    };
  }
}
