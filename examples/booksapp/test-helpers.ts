/**
 * Helpers for the booksapp unit tests: real servers on port 0, closed when the test ends, with their
 * log lines kept so a test can assert which calls an app made.
 */
import type { TestContext } from 'node:test';

import type { RunningServer } from './http.js';

export interface Started extends RunningServer {
  readonly url: string;
  readonly logs: string[];
}

export async function started(t: TestContext, start: (log: (line: string) => void) => Promise<RunningServer>): Promise<Started> {
  const logs: string[] = [];
  const s = await start((line) => logs.push(line));
  t.after(() => s.close());
  return { ...s, close: () => s.close(), url: `http://127.0.0.1:${s.port}`, logs };
}

/** The `METHOD /path -> status` lines an app logged, without timings. */
export function requestsSeen(logs: readonly string[]): string[] {
  return logs.flatMap((l) => {
    const m = /^([A-Z]+ \S+) -> (\d+)/.exec(l);
    return m ? [`${m[1]} -> ${m[2]}`] : [];
  });
}

export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  json<T = unknown>(): T;
}

export async function call(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...headers };
  }
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: <T>() => JSON.parse(text) as T };
}

/** A deterministic stand-in for Math.random: cycles through the given values. */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}
