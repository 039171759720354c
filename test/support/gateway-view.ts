/**
 * The gateway's view as `weft gateway` receives it, for in-process tests and the gateway bench: the
 * controller's per-Gateway view (core computeGatewayStatuses) through the protobuf bytes
 * GatewayPolicy.Watch carries and back (policy-controller gatewayViewMessage, proxy gatewayViewOf), and
 * a view source a test can replace.
 */
import { GatewayView as GatewayViewMsg } from '../../api/gen/weft/gateway/v1/gateway.js';
import type { GatewayView } from '../../core/gateway/view.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../policy-controller/services/convert.js';
import { gatewayViewMessage } from '../../policy-controller/services/gateway.js';
import type { GatewayViewSource } from '../../proxy/gateway/server.js';
import { gatewayViewOf } from '../../proxy/policy/wire.js';

/** `view` (the controller's, for Gateway `gateway`) as the proxy decodes it from the wire. */
export function overTheWire(gateway: { readonly namespace: string; readonly name: string }, view: GatewayView | undefined): GatewayView | undefined {
  const body = gatewayViewMessage(gateway, view, DEFAULT_CONVERT_OPTIONS);
  return gatewayViewOf(GatewayViewMsg.decode(GatewayViewMsg.encode({ ...body, version: 1 }).finish()));
}

/** A view source that has answered; `set` replaces the view and tells the gateway. */
export class TestViewSource implements GatewayViewSource {
  private readonly listeners = new Set<() => void>();
  constructor(private view: GatewayView | undefined) {}
  current(): GatewayView | undefined {
    return this.view;
  }
  answered(): boolean {
    return true;
  }
  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  set(view: GatewayView | undefined): void {
    this.view = view;
    for (const l of this.listeners) l();
  }
}
