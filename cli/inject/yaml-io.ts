/**
 * Reading YAML from files or stdin and writing it back: every document is transformed by `fn`;
 * documents it leaves alone are written exactly as read, and in the ones it changes only the changed
 * nodes are replaced in the document (yaml's Document API), so comments and layout elsewhere stay.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, YAMLMap, YAMLSeq } from 'yaml';
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

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const plainMap = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const named = (v: unknown): string | undefined => (plainMap(v) && typeof v['name'] === 'string' ? v['name'] : undefined);

/**
 * Makes `node` (whose value is `before`) hold `after`, replacing only what differs: map keys are kept,
 * set or deleted one by one; list items are matched by their `name` when every item has one
 * (containers, volumes), else by position. Returns the node to use (a new one when kinds differ).
 */
function sync(doc: Document, node: unknown, before: unknown, after: unknown): unknown {
  if (same(before, after)) return node;
  if (isMap(node) && plainMap(before) && plainMap(after)) {
    const map = node as YAMLMap<unknown, unknown>;
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) map.delete(key);
    for (const [key, value] of Object.entries(after)) {
      if (Object.hasOwn(before, key)) map.set(key, sync(doc, map.get(key, true), before[key], value));
      else map.set(key, doc.createNode(value));
    }
    return map;
  }
  if (isSeq(node) && Array.isArray(before) && Array.isArray(after)) {
    const seq = node as YAMLSeq<unknown>;
    const byName = before.every((b) => named(b) !== undefined) && after.every((a) => named(a) !== undefined);
    const items = after.map((value, i) => {
      const j = byName ? before.findIndex((b) => named(b) === named(value)) : i < before.length ? i : -1;
      return j >= 0 ? sync(doc, seq.items[j], before[j], value) : doc.createNode(value);
    });
    seq.items = items;
    return seq;
  }
  if (isScalar(node) && !plainMap(after) && !Array.isArray(after)) {
    node.value = after;
    return node;
  }
  return doc.createNode(after);
}

/** Transforms each document; `fn` returns undefined to keep a document as it was. */
export function transformYaml(name: string, text: string, fn: (obj: Obj) => Obj | undefined): string {
  const out: string[] = [];
  let index = 0;
  for (const doc of parseAllDocuments(text)) {
    index += 1;
    if (doc.errors.length > 0) throw new YamlInputError(`${name}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const obj = doc.toJS() as unknown;
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) throw new YamlInputError(`${name}: document ${index} is not a Kubernetes object`);
    let next: Obj | undefined;
    try {
      next = fn(obj as Obj);
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'WORKLOAD_INVALID') throw new YamlInputError(`${name}: document ${index}: ${err.message}`);
      throw err;
    }
    if (next !== undefined) (doc as unknown as { contents: unknown }).contents = sync(doc, doc.contents, obj, next);
    out.push(doc.toString({ lineWidth: 0 }).replace(/^---[ \t]*\n/, ''));
  }
  return out.join('---\n');
}

