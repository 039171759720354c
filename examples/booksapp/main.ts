/**
 * Entry point of every booksapp program: `node dist/examples/booksapp/main.js <app>`. In the examples
 * image (ghcr.io/weft-dev/weft-examples) a container runs it with `args: [booksapp, <app>]`; the image's
 * entry point (examples/bin/examples) maps that to this file.
 *
 * Configuration comes from the environment (config.ts); a bad value exits 2 before any port is bound.
 * SIGTERM and SIGINT stop accepting, let requests in progress finish, and exit 0.
 */
import { startAuthors } from './authors.js';
import { startBooks } from './books.js';
import {
  APP_NAMES,
  authorsConfig,
  booksConfig,
  errorInjectorConfig,
  podinfoConfig,
  processEnv,
  trafficConfig,
  webappConfig,
  type AppName,
  type Parsed,
} from './config.js';
import { startErrorInjector } from './error-injector.js';
import { consoleLog, type Log } from './http.js';
import { startPodinfo } from './podinfo.js';
import { startTraffic } from './traffic.js';
import { startWebapp } from './webapp.js';

/** What main needs of a started app: a way to stop it, and (traffic) a natural end. */
interface Started {
  stop(): Promise<unknown>;
  finished?: Promise<unknown>;
}

type Launcher = (env: ReturnType<typeof processEnv>, log: Log) => Parsed<() => Promise<Started>>;

function launcher<C>(parse: (env: ReturnType<typeof processEnv>) => Parsed<C>, start: (config: C, log: Log) => Promise<Started>): Launcher {
  return (env, log) => {
    const parsed = parse(env);
    return parsed.ok ? { ok: true, config: () => start(parsed.config, log) } : parsed;
  };
}

const server = async (p: Promise<{ close(): Promise<void> }>): Promise<Started> => {
  const s = await p;
  return { stop: () => s.close() };
};

const APPS: Readonly<Record<AppName, Launcher>> = {
  webapp: launcher(webappConfig, (c, log) => server(startWebapp({ ...c, log }))),
  books: launcher(booksConfig, (c, log) => server(startBooks({ ...c, log }))),
  authors: launcher(authorsConfig, (c, log) => server(startAuthors({ ...c, log }))),
  podinfo: launcher(podinfoConfig, (c, log) => server(startPodinfo({ ...c, log }))),
  'error-injector': launcher(errorInjectorConfig, (c, log) => server(startErrorInjector({ ...c, log }))),
  traffic: launcher(trafficConfig, async (c, log) => {
    const t = startTraffic({ ...c, log });
    return { stop: () => t.stop(), finished: t.finished };
  }),
};

const name = process.argv[2] ?? '';
const launch = (APPS as Readonly<Record<string, Launcher | undefined>>)[name];
if (launch === undefined) {
  console.error(`booksapp: usage: main.js <${APP_NAMES.join('|')}> (got ${JSON.stringify(name)})`);
  process.exit(2);
}
const log = consoleLog(name);
const parsed = launch(processEnv(), log);
if (!parsed.ok) {
  for (const e of parsed.errors) console.error(`booksapp ${name}: config error: ${e}`);
  process.exit(2);
}
try {
  const app = await parsed.config();
  const shutdown = (signal: string): void => {
    log(`${signal}: shutting down`);
    void app.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  void app.finished?.then(() => process.exit(0));
} catch (err) {
  console.error(`booksapp ${name}: ${(err as Error).message}`);
  process.exit(1);
}
