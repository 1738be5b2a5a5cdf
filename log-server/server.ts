/**
 * The running log server: opens the data directory (key file + LevelDB), resumes the tree, starts
 * the verification workers and the HTTP listener, and shuts all of it down in order.
 *
 * Data directory layout (docs/operating.md):
 *   <data>/checkpoint.key   the checkpoint signer key (0600); its name is the log's origin
 *   <data>/db/              the LevelDB (layout in store.ts)
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LafsError } from '../merkle/errors.js';
import { createHandler } from './app.js';
import { BuildPool } from './build-pool.js';
import { MAX_CONNECTIONS, type ServeConfig } from './config.js';
import { ByteBudget } from './inflight.js';
import { Metrics } from './metrics.js';
import { RateLimiter } from './rate-limit.js';
import { LogReader } from './reader.js';
import { Sequencer } from './sequencer.js';
import { CheckpointSigner } from './signer.js';
import { LAYOUT_VERSION, Store } from './store.js';
import { TileCache } from './tile-cache.js';

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RunningLog {
  url: string;
  origin: string;
  verifierKey: string;
  /** Stops accepting, lets in-flight requests and the current batch finish, closes the database. */
  close(): Promise<void>;
}

export function dbDir(dataDir: string): string {
  return join(dataDir, 'db');
}

/** Opens the store and checks it belongs to this key (origin recorded on first start). */
export async function openDataDir(dataDir: string, origin: string | undefined, options: { writeBufferSize?: number } = {}): Promise<{ store: Store; signer: CheckpointSigner; created: boolean }> {
  if (!existsSync(join(dataDir, 'checkpoint.key')) && existsSync(join(dbDir(dataDir), 'CURRENT'))) {
    throw new LafsError('io', `${dataDir} has a database but no checkpoint.key: restore the key from a backup; a new key would not match the log's checkpoints`);
  }
  const { signer, created } = CheckpointSigner.loadOrCreate(dataDir, origin);
  const store = await Store.open(dbDir(dataDir), options);
  try {
    const storedOrigin = await store.meta('origin');
    if (storedOrigin === undefined) {
      await store.putMeta({ origin: signer.origin, layout: LAYOUT_VERSION });
    } else if (storedOrigin !== signer.origin) {
      throw new LafsError('inconsistent', `the database is for origin ${JSON.stringify(storedOrigin)} but checkpoint.key is for ${JSON.stringify(signer.origin)}`);
    }
    const layout = await store.meta('layout');
    if (layout !== undefined && layout !== LAYOUT_VERSION && Store.canUpgrade(layout)) await store.upgradeLayout(layout);
    else if (layout !== LAYOUT_VERSION) throw new LafsError('io', `the database layout version is ${JSON.stringify(layout)}, this server reads ${LAYOUT_VERSION}`);
  } catch (e) {
    await store.close();
    throw e;
  }
  return { store, signer, created };
}

export async function startLogServer(config: ServeConfig, log: Logger): Promise<RunningLog> {
  const { store, signer, created } = await openDataDir(config.dataDir, config.origin);
  if (created) log.info({ dataDir: config.dataDir, origin: signer.origin }, 'created a new checkpoint key');
  const metrics = new Metrics();
  metrics.storeMemoryBytes = () => store.memoryBytes();
  const tiles = new TileCache(store);
  let sequencer: Sequencer;
  try {
    sequencer = await Sequencer.open(store, signer, tiles, { metrics, log });
  } catch (e) {
    await store.close();
    throw e;
  }
  const pool = new BuildPool(config.workers);
  metrics.workerHeaps = () => pool.heaps;
  const reader = new LogReader(store, tiles, () => sequencer.state);
  const inflight = new ByteBudget(config.inflightBytes);
  const handler = createHandler({ origin: signer.origin, verifierKey: signer.verifierKey, store, reader, sequencer, pool, limiter: new RateLimiter(config.rateLimit), inflight, metrics, log });

  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = createServer(handler);
      s.once('error', reject);
      s.listen(config.port, config.host, () => resolve(s));
    });
  } catch (e) {
    await pool.close();
    await store.close();
    throw new LafsError('io', `cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`, { cause: e });
  }
  // Slow clients cannot hold a connection (and the bytes it reserved) for long, nor can many of
  // them hold file descriptors and header buffers without limit (docs/operating.md, "Limits").
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.maxConnections = MAX_CONNECTIONS;
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  log.info({ port, host: config.host, size: sequencer.state.size, origin: signer.origin, workers: config.workers, rateLimit: config.rateLimit, inflightBytes: config.inflightBytes }, 'listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
      await Promise.race([closed, timer]);
      server.closeAllConnections();
      await sequencer.close();
      await pool.close();
      await store.close();
      log.info({ size: sequencer.state.size }, 'stopped');
    })());

  return { url: `http://${host}:${port}`, origin: signer.origin, verifierKey: signer.verifierKey, close };
}
