/**
 * The fuzzing tier's settings, read once from the environment.
 *
 * WEFT_FUZZ_RUNS   total generated inputs, shared among the properties by weight. Default 4,000:
 *                  the short run of the unit tier (a few seconds). `npm run fuzz` asks for 1,000,000.
 * WEFT_FUZZ_SEED   fast-check seed. The CI run uses a fixed seed so a failure reproduces exactly;
 *                  the full run picks a random one unless given, and prints it either way.
 */
import { env } from 'node:process';

function intFrom(name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name}=${raw} is not a positive integer`);
  return n;
}

/** Fixed so the CI run is the same inputs every time. */
export const CI_SEED = 0x5eed_f022;
export const CI_RUNS = 4_000;

export const FUZZ_RUNS = intFrom('WEFT_FUZZ_RUNS', CI_RUNS);
function seedFrom(name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${raw} is not an integer`);
  return n;
}

export const FUZZ_SEED = seedFrom('WEFT_FUZZ_SEED');
