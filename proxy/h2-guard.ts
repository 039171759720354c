/**
 * HTTP/2 flood protection for downstream sessions (security cases 27-32), on top of nghttp2's own
 * limits (invalid frames, header list size, session memory) that `h2ServerOptions` sets.
 *
 * Per session and per one-second window it counts streams the client reset before they finished
 * (rapid reset, CVE-2023-44487), PING frames and SETTINGS frames; above the limit it sends GOAWAY
 * ENHANCE_YOUR_CALM and closes the connection, so one abusive client cannot starve the others.
 */
import { constants as h2c } from 'node:http2';
import type { Http2Session, ServerHttp2Session, ServerOptions as H2ServerOptions } from 'node:http2';
import type { ProxyLimits } from './config.js';

export function h2ServerOptions(limits: ProxyLimits): H2ServerOptions {
  return {
    settings: {
      maxConcurrentStreams: limits.h2MaxConcurrentStreams,
      maxHeaderListSize: limits.h2MaxHeaderListBytes,
      enablePush: false,
    },
    maxHeaderListPairs: 128,
    maxSessionMemory: 10,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
    unknownProtocolTimeout: limits.detectTimeoutMs,
  };
}

export function guardSession(session: ServerHttp2Session, limits: ProxyLimits, onFlood: () => void): void {
  let windowStart = Date.now();
  let resets = 0;
  let pings = 0;
  let settings = 0;
  let tripped = false;
  const over = (): boolean => {
    const now = Date.now();
    if (now - windowStart >= 1_000) {
      windowStart = now;
      resets = 0;
      pings = 0;
      settings = 0;
    }
    return resets > limits.h2MaxResetsPerSecond || pings > limits.h2MaxPingsPerSecond || settings > limits.h2MaxSettingsPerSecond;
  };
  const trip = () => {
    if (tripped) return;
    tripped = true;
    onFlood();
    closeWithCalm(session);
  };
  session.on('stream', (stream) => {
    stream.once('aborted', () => {
      resets++;
      if (over()) trip();
    });
  });
  session.on('ping', () => {
    pings++;
    if (over()) trip();
  });
  session.on('remoteSettings', () => {
    settings++;
    if (over()) trip();
  });
  session.on('frameError', () => undefined);
  session.on('error', () => undefined);
}

/**
 * GOAWAY ENHANCE_YOUR_CALM, then close. The code must go with an error to `destroy`: a `goaway()`
 * followed by a bare `destroy()` sent node's own final GOAWAY (NO_ERROR) instead, and so did
 * `destroy(undefined, code)` (the undefined error takes the NO_ERROR default, which overrides the code).
 */
export function closeWithCalm(session: Http2Session): void {
  if (session.destroyed) return;
  session.destroy(new Error('HTTP/2 flood: too many resets, PINGs or SETTINGS per second'), h2c.NGHTTP2_ENHANCE_YOUR_CALM);
}
