/**
 * The slice of the Kubernetes Pod the injector reads, as plain JSON (the API server's wire shape).
 * Fields the injector does not read pass through untouched: a patch only adds or removes what it names.
 */

export interface ObjectMetaLike {
  readonly name?: string | undefined;
  readonly generateName?: string | undefined;
  readonly namespace?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface ContainerPortLike {
  readonly name?: string | undefined;
  readonly containerPort: number;
  readonly protocol?: string | undefined;
}

export interface ContainerLike {
  readonly name: string;
  readonly image?: string | undefined;
  readonly ports?: readonly ContainerPortLike[] | undefined;
  readonly restartPolicy?: string | undefined;
  readonly securityContext?: { readonly runAsUser?: number | undefined } | undefined;
  readonly [field: string]: unknown;
}

export interface PodSpecLike {
  readonly containers: readonly ContainerLike[];
  readonly initContainers?: readonly ContainerLike[] | undefined;
  readonly volumes?: readonly { readonly name: string; readonly [field: string]: unknown }[] | undefined;
  readonly hostNetwork?: boolean | undefined;
  readonly serviceAccountName?: string | undefined;
  readonly terminationGracePeriodSeconds?: number | undefined;
  readonly securityContext?: { readonly runAsUser?: number | undefined } | undefined;
  readonly [field: string]: unknown;
}

/** A Pod, or a workload's pod template (which has no name and often no namespace). */
export interface PodLike {
  readonly metadata?: ObjectMetaLike | undefined;
  readonly spec: PodSpecLike;
}

/** The namespace as far as injection cares: its name and annotations. */
export interface NamespaceLike {
  readonly name: string;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}
