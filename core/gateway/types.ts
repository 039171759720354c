/**
 * Object shapes of the north/south side of the Gateway API (v1.7.0 standard channel): GatewayClass,
 * Gateway and its listeners, TLSRoute, and the Secrets listeners terminate TLS with. Fields Weft does
 * not model are kept as `unknown` (Extra), never dropped.
 */
import type { Condition, Extra, KubeObject, ParentReference, RouteStatusJson } from '../kube.js';
import type { LabelSelector } from '../kube-policy.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export interface GatewayClassSpec extends Extra {
  readonly controllerName: string;
  readonly parametersRef?: Extra & { readonly group: string; readonly kind: string; readonly name: string; readonly namespace?: string };
  readonly description?: string;
}

export interface GatewayClass extends KubeObject {
  readonly spec?: GatewayClassSpec;
  readonly status?: Extra & { readonly conditions?: readonly Condition[] };
}

/** SecretObjectReference (certificateRefs, clientCertificateRef): group "" and kind Secret by default. */
export interface SecretObjectReference extends Extra {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface RouteGroupKind extends Extra {
  readonly group?: string;
  readonly kind: string;
}

export interface AllowedRoutes extends Extra {
  readonly namespaces?: Extra & { readonly from?: 'All' | 'Same' | 'Selector' | (string & {}); readonly selector?: LabelSelector };
  readonly kinds?: readonly RouteGroupKind[];
}

export interface ListenerTLSConfig extends Extra {
  readonly mode?: 'Terminate' | 'Passthrough' | (string & {});
  readonly certificateRefs?: readonly SecretObjectReference[];
  readonly options?: Readonly<Record<string, string>>;
}

export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP' | (string & {});

export interface Listener extends Extra {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  readonly protocol: ListenerProtocol;
  readonly tls?: ListenerTLSConfig;
  readonly allowedRoutes?: AllowedRoutes;
}

/** Client certificate validation on a Gateway's HTTPS listeners (spec.tls.frontend). */
export interface FrontendValidation extends Extra {
  readonly caCertificateRefs?: readonly (Extra & { readonly group?: string; readonly kind?: string; readonly name: string; readonly namespace?: string })[];
  readonly mode?: 'AllowValidOnly' | 'AllowInsecureFallback' | (string & {});
}

/** Which namespaces' ListenerSets may attach to a Gateway (spec.allowedListeners); default none. */
export interface AllowedListeners extends Extra {
  readonly namespaces?: Extra & { readonly from?: 'All' | 'Same' | 'Selector' | 'None' | (string & {}); readonly selector?: LabelSelector };
}

export interface GatewaySpec extends Extra {
  readonly gatewayClassName: string;
  readonly listeners?: readonly Listener[];
  readonly allowedListeners?: AllowedListeners;
  readonly addresses?: readonly (Extra & { readonly type?: string; readonly value?: string })[];
  readonly tls?: Extra & {
    readonly backend?: Extra & { readonly clientCertificateRef?: SecretObjectReference };
    readonly frontend?: Extra & {
      readonly default?: Extra & { readonly validation?: FrontendValidation };
      readonly perPort?: readonly (Extra & { readonly port: number; readonly tls?: Extra & { readonly validation?: FrontendValidation } })[];
    };
  };
  /** Metadata for the objects the controller creates for the Gateway; parametersRef is not supported. */
  readonly infrastructure?: Extra & {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly parametersRef?: Extra & { readonly group: string; readonly kind: string; readonly name: string };
  };
}

export interface ListenerStatusJson extends Extra {
  readonly name: string;
  readonly supportedKinds: readonly RouteGroupKind[];
  readonly attachedRoutes: number;
  readonly conditions: readonly Condition[];
}

export interface GatewayStatusJson extends Extra {
  readonly addresses?: readonly (Extra & { readonly type?: string; readonly value: string })[];
  readonly conditions?: readonly Condition[];
  readonly listeners?: readonly ListenerStatusJson[];
  /** How many ListenerSets are attached (allowed, referring to the Gateway, Accepted). */
  readonly attachedListenerSets?: number;
}

/** A ListenerSet's parentRef: a Gateway (group and kind default to the Gateway API's Gateway). */
export interface ParentGatewayReference extends Extra {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface ListenerSetStatusJson extends Extra {
  readonly conditions?: readonly Condition[];
  readonly listeners?: readonly ListenerStatusJson[];
}

/** Listeners added to a Gateway from another object (and possibly another namespace) than the Gateway. */
export interface ListenerSet extends KubeObject {
  readonly spec?: Extra & { readonly parentRef: ParentGatewayReference; readonly listeners?: readonly Listener[] };
  readonly status?: ListenerSetStatusJson;
}

export interface Gateway extends KubeObject {
  readonly spec?: GatewaySpec;
  readonly status?: GatewayStatusJson;
}

export interface Secret extends KubeObject {
  readonly type?: string;
  /** base64, as the API server serves it. */
  readonly data?: Readonly<Record<string, string>>;
}

export interface TLSRouteSpec extends Extra {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly (Extra & { readonly name?: string; readonly backendRefs?: readonly (Extra & { readonly name: string; readonly namespace?: string; readonly port?: number; readonly weight?: number; readonly group?: string; readonly kind?: string })[] })[];
}

export interface TLSRoute extends KubeObject {
  readonly spec?: TLSRouteSpec;
  readonly status?: RouteStatusJson;
}
