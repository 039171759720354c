/**
 * Applies the JSON patch operations the injector produces (RFC 6902 add, remove, replace) to a copy
 * of a document: `weft inject` applies them offline, the tests apply them to check the result. The
 * API server applies the same patches to webhook responses.
 */
import type { JsonPatchOp } from './patch.js';

export class JsonPatchError extends Error {
  readonly code = 'JSON_PATCH_INVALID';
}

function unescape(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

export function applyPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const root = structuredClone(doc) as unknown;
  for (const op of ops) {
    if (!op.path.startsWith('/')) throw new JsonPatchError(`path ${JSON.stringify(op.path)} must start with /`);
    const segments = op.path.slice(1).split('/').map(unescape);
    const last = segments.pop();
    if (last === undefined) throw new JsonPatchError('an empty path replaces the document: not supported');
    let parent: unknown = root;
    for (const s of segments) {
      parent = Array.isArray(parent) ? parent[Number(s)] : (parent as Record<string, unknown> | undefined)?.[s];
      if (parent === null || typeof parent !== 'object') throw new JsonPatchError(`${op.path}: the parent of ${JSON.stringify(last)} does not exist`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length || (op.op !== 'add' && index >= parent.length)) {
        throw new JsonPatchError(`${op.path}: index out of range`);
      }
      if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(index, 1);
      else parent[index] = structuredClone(op.value);
    } else {
      const obj = parent as Record<string, unknown>;
      if (op.op !== 'add' && !Object.hasOwn(obj, last)) throw new JsonPatchError(`${op.path}: nothing to ${op.op}`);
      if (op.op === 'remove') delete obj[last];
      else obj[last] = structuredClone(op.value);
    }
  }
  return root as T;
}
