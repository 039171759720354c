/**
 * The write loop the policy status writers share (XBackendTrafficPolicy: ./policy-writer.ts,
 * InboundLimitPolicy: ./limit-writer.ts): the index names the policies whose status may have changed
 * after each flush; while this controller holds the leader Lease they are written one at a time, each
 * as a merge PATCH of the status subresource carrying the policy's resourceVersion, only when the
 * subclass says something changed. A conflict or a policy gone is counted and dropped (the index names
 * the policy again when it changes); any other failure is retried after 2 s.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { KubeObject } from '../../core/kube.js';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';
import { objectPath, resourceOf } from '../k8s/resources.js';
import type { ResourceKind } from '../index/kinds.js';
import type { PolicyIndex } from '../index/index.js';

export interface PolicyStatusWriterOptions {
  readonly kc: KubeConfig;
  readonly index: PolicyIndex;
  readonly isLeader: () => boolean;
  readonly log: Logger;
  readonly registry: Registry;
}

/** The timestamp format of condition times: seconds, UTC. */
export function conditionTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export abstract class PolicyStatusQueue {
  private readonly queue = new Set<string>();
  private running = false;
  private stopped = false;
  private readonly writes: Counter<'result'>;
  private readonly unsubscribe: () => void;

  /**
   * `subscribe` registers with the index for the ids (`namespace/name`) whose status may have changed;
   * `metric` names the writes counter (by result: written, conflict, gone, error).
   */
  constructor(
    protected readonly o: PolicyStatusWriterOptions,
    private readonly kind: ResourceKind,
    metric: string,
    subscribe: (onIds: (ids: Iterable<string>) => void) => () => void,
  ) {
    this.writes = new Counter({ name: metric, help: `${kind} status writes, by result`, labelNames: ['result'], registers: [o.registry] });
    this.unsubscribe = subscribe((ids) => this.enqueue(ids));
  }

  /** The status to PATCH for policy `ns/name`, or undefined when there is nothing to write. */
  protected abstract statusFor(ns: string, name: string, now: string): { readonly policy: KubeObject; readonly status: object } | undefined;

  enqueue(ids: Iterable<string>): void {
    for (const id of ids) this.queue.add(id);
    void this.pump();
  }

  /** Queues every policy of the kind (after becoming leader). */
  enqueueAll(): void {
    this.enqueue(this.o.index.list(this.kind).map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  /** One write at a time: these policies are few. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.queue.size > 0 && this.o.isLeader()) {
        const id = this.queue.values().next().value as string;
        this.queue.delete(id);
        try {
          await this.write(id);
        } catch (err) {
          if (err instanceof KubeHttpError && (err.statusCode === 409 || err.statusCode === 404)) {
            this.writes.inc({ result: err.statusCode === 409 ? 'conflict' : 'gone' });
            continue;
          }
          this.writes.inc({ result: 'error' });
          this.o.log.warn({ policy: id, err: (err as Error).message }, `writing ${this.kind} status failed; retrying`);
          setTimeout(() => this.enqueue([id]), 2000).unref();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async write(id: string): Promise<void> {
    const [ns, name] = id.split('/') as [string, string];
    const w = this.statusFor(ns, name, conditionTime());
    if (w === undefined) return;
    await kubeRequest(
      this.o.kc,
      'PATCH',
      `${objectPath(resourceOf(this.kind), ns, name)}/status`,
      { metadata: { resourceVersion: w.policy.metadata.resourceVersion }, status: w.status },
      'application/merge-patch+json',
    );
    this.writes.inc({ result: 'written' });
    this.o.log.debug({ policy: id }, `${this.kind} status written`);
  }
}
