/**
 * Writes a generated block into a Markdown file between `<!-- <name>:begin -->` and
 * `<!-- <name>:end -->`, appending the block (under `heading`) when the markers are not there yet.
 * Used by the fuzzing run, the HTTP/1.1 differential run and the controller scale benchmark to keep
 * their figures in bench/README.md; nothing outside the markers is touched.
 */
import { readFile, writeFile } from 'node:fs/promises';

export async function writeReadmeSection(file: string, name: string, body: string, heading: string): Promise<void> {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const text = await readFile(file, 'utf8');
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${heading}\n\n${block}\n`;
  await writeFile(file, next);
}
