/**
 * The full-length load-and-fault run (design.md section 9) on the local cluster: the e2e test
 * test/e2e/reliability-faults.test.ts with WEFT_RELIABILITY_FULL=1 (60 s certificates rotated three
 * times, ten route updates a second for 60 s, a rolling restart, a 60 s controller outage with a pod
 * created during it; 20 req/s open loop), then its figures as a table.
 *
 *   npx tsc -p . && node dist/bench/reliability/run.js [--short] [--write]
 *
 *   --short  the CI form instead (20 s certificates, 25 s phases, 10 req/s)
 *   --write  records the figures in bench/README.md, section reliability
 *
 * Needs the local cluster up (npm run cluster -- up). Exits non-zero when the test fails, after
 * printing whatever figures it recorded.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/paths.js';
import { writeReadmeSection } from '../../test/support/fuzz-report.js';

interface Figures {
  plan: { certLifetimeS: number; rotations: number; outageS: number; routeUpdatesS: number; rate: number };
  full: boolean;
  figures: { phase: string; seconds: number; started: number; ok: number; failed: number; note: string }[];
}

const short = process.argv.includes('--short');
const dir = await mkdtemp(join(tmpdir(), 'weft-reliability-'));
const report = join(dir, 'figures.json');
const started = new Date();
const code = await new Promise<number>((resolve, reject) => {
  const p = spawn(process.execPath, ['--test', '--test-reporter=spec', join(REPO_ROOT, 'dist', 'test', 'e2e', 'reliability-faults.test.js')], {
    env: { ...process.env, WEFT_RELIABILITY_FULL: short ? '0' : '1', WEFT_RELIABILITY_REPORT: report },
    stdio: 'inherit',
  });
  p.on('error', reject);
  p.on('exit', (c) => resolve(c ?? 1));
});

let data: Figures | undefined;
try {
  data = JSON.parse(await readFile(report, 'utf8')) as Figures;
} catch {
  console.error('the test recorded no figures');
}
await rm(dir, { recursive: true, force: true });
if (data !== undefined) {
  const p = data.plan;
  const lines = [
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on this 2-core machine (shared with other jobs), ${data.full ? 'full-length' : 'short (CI)'} form: ` +
      `${p.rate} req/s open loop, ${p.certLifetimeS} s certificates (${p.rotations} rotations), ${p.routeUpdatesS} s of 10 route updates/s, ` +
      `a ${p.outageS} s controller outage. Test result: ${code === 0 ? 'pass' : `FAIL (exit ${code})`}.`,
    '',
    '| phase | s | requests | ok | failed | notes |',
    '|---|---|---|---|---|---|',
    ...data.figures.map((f) => `| ${f.phase} | ${f.phase === 'total' ? '' : f.seconds} | ${f.started} | ${f.ok} | ${f.failed} | ${f.note.replaceAll('|', '/')} |`),
  ];
  console.log(lines.join('\n'));
  if (process.argv.includes('--write')) {
    await writeReadmeSection(join(REPO_ROOT, 'bench', 'README.md'), 'reliability', lines.join('\n'), '## reliability: zero failed requests under faults');
    console.log('wrote bench/README.md (reliability)');
  }
}
process.exitCode = code;
