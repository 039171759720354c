/**
 * Loads the node agent's exported helpers (test/cluster/agent/, owned by the agent) at run time, so the
 * control-plane code compiles and runs even when the agent is not built yet, and says so clearly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO_ROOT } from '../support/paths.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  env?: Record<string, string>;
  stdin?: string;
  timeoutMs?: number;
}

export type ExecInContainer = (stateDir: string, ns: string, pod: string, container: string, argv: string[], opts?: ExecOptions) => Promise<ExecResult>;
export type CleanupNode = (stateDir: string) => Promise<void>;

const agentJs = (file: string): string => join(REPO_ROOT, 'dist', 'test', 'cluster', 'agent', file);

async function load<T>(file: string, name: string): Promise<T> {
  const path = agentJs(file);
  if (!existsSync(path)) throw new Error(`${path} is not built; the node agent provides ${name}`);
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const fn = mod[name];
  if (typeof fn !== 'function') throw new Error(`${path} does not export ${name}`);
  return fn as T;
}

export const loadExecInContainer = (): Promise<ExecInContainer> => load<ExecInContainer>('exec.js', 'execInContainer');
export const loadCleanupNode = (): Promise<CleanupNode> => load<CleanupNode>('cleanup.js', 'cleanupNode');
export const cleanupNodeBuilt = (): boolean => existsSync(agentJs('cleanup.js'));
