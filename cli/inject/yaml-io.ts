/**
 * Reading YAML from files or stdin and writing it back: every document is transformed by `fn`;
 * documents it leaves alone are written exactly as read (comments kept).
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, stringify } from 'yaml';
import type { Obj } from './workloads.js';

export async function readInputs(paths: readonly string[], stdin: () => Promise<string>): Promise<{ name: string; text: string }[]> {
  if (paths.length === 0 || (paths.length === 1 && paths[0] === '-')) return [{ name: 'stdin', text: await stdin() }];
  return Promise.all(paths.map(async (p) => ({ name: p, text: p === '-' ? await stdin() : await readFile(p, 'utf8') })));
}

export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => { text += d; });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

export class YamlInputError extends Error {
  readonly code = 'YAML_INVALID';
}

/** Transforms each document; `fn` returns undefined to keep a document as it was. */
export function transformYaml(name: string, text: string, fn: (obj: Obj) => Obj | undefined): string {
  const out: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new YamlInputError(`${name}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const obj = doc.toJS() as unknown;
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) throw new YamlInputError(`${name}: a document is not a Kubernetes object`);
    const next = fn(obj as Obj);
    out.push(next === undefined ? doc.toString({ lineWidth: 0 }).replace(/^---[ \t]*\n/, '') : stringify(next, { lineWidth: 0 }));
  }
  return out.join('---\n');
}
