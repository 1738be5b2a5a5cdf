#!/usr/bin/env node
/**
 * `lafs-monitor` (issue 5; docs/monitor.md): follows a LAFS log, proves it only grew, re-verifies
 * every entry and alerts when builders disagree or the log misbehaves. `status` and
 * `disagreements` read the state it keeps.
 *
 * Exit codes: 0 clean (stopped by SIGINT/SIGTERM, or `--once` with no alert), 1 `--once` raised
 * alerts (or the log is still inconsistent), 2 usage or I/O error.
 */
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { LafsError } from '../merkle/errors.js';
import { nodeSha256 } from '../attestation/node-crypto.js';
import { VerifyPool } from '../attestation/verify-pool.js';
import { LogClient } from '../client/log-client.js';
import { AlertSinks } from './alerts.js';
import { defaultStateDir, originOfKey, parseCount, parseSeconds, parseTrust, readVerifierKey } from './config.js';
import { Follower } from './follower.js';
import { startMemlog } from '../attestation/memlog.js';
import { IndexStore, type DisputeRecord, type StoreStatus } from './index-store.js';
import { httpBundleReader, httpNoteReader, httpRawBundleReader, httpTileReader } from './tile-reader.js';

const EXIT_OK = 0;
const EXIT_ALERTS = 1;
const EXIT_USAGE_OR_IO = 2;

/** LevelDB lives in DIR/db; DIR/status.json is a snapshot that `status` reads while a monitor holds the lock. */
const dbDir = (stateDir: string) => join(stateDir, 'db');
const snapshotFile = (stateDir: string) => join(stateDir, 'status.json');

interface FollowOptions {
  log?: string;
  vkey?: string;
  origin?: string;
  state?: string;
  interval: string;
  webhook?: string;
  exec?: string;
  trust?: string;
  once?: boolean;
  stallAfter?: string;
  failuresBeforeAlert: string;
  threads?: string;
}

const EXAMPLES = `
Examples:
  # follow a log, alerts as JSON lines on stdout
  lafs-monitor --log https://log.example.org --vkey 'example.org/lafs-log+1a2b3c4d+AQ...'

  # from cron: catch up once, exit 1 if anything was raised
  lafs-monitor --log https://log.example.org --vkey ./log.vkey --once

  # alert a webhook and a script too; call the log stalled after 2 hours without a new checkpoint
  lafs-monitor --log https://log.example.org --vkey ./log.vkey \\
      --webhook https://hooks.example.org/lafs --exec 'mail -s lafs-alert ops@example.org' --stall-after 7200

  # only disagreements among builders you trust
  lafs-monitor --log https://log.example.org --vkey ./log.vkey --trust ./builders.txt,3F1A...C0DE

  lafs-monitor status --state ~/.local/share/lafs/monitor/example.org_lafs-log
  lafs-monitor disagreements --state ~/.local/share/lafs/monitor/example.org_lafs-log --json

Exit codes: 0 ok, 1 alerts raised (--once), 2 usage or I/O error.
`;

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('lafs-monitor')
    .description('Follow a LAFS build transparency log: prove it only grows, re-verify every entry, alert when builders disagree.')
    .exitOverride()
    .showHelpAfterError(false)
    // `status --state DIR`: the subcommand's --state, not the follower's.
    .enablePositionalOptions()
    // The same environment variables as lafs and lafs-verify (cli/program.ts).
    .addOption(new Option('--log <url>', 'base URL of the log (server or static tile mirror)').env('LAFS_LOG'))
    .addOption(new Option('--vkey <key>', 'the log\'s verifier key (name+hex+base64), or a file holding it').env('LAFS_VKEY'))
    .option('--origin <origin>', 'the log\'s origin (default: the verifier key\'s name)')
    .option('--state <dir>', 'state directory (default: $XDG_DATA_HOME/lafs/monitor/<origin>)')
    .option('--interval <seconds>', 'seconds between polls', '60')
    .option('--webhook <url>', 'also POST each alert as JSON to this URL (retried with backoff)')
    .option('--exec <command>', 'also run this shell command for each alert, the alert JSON on its stdin')
    .option('--trust <keys>', 'only raise disagreements among these builders: comma-separated fingerprints, key files or fingerprint lists')
    .option('--once', 'catch up once and exit: 0 no alert, 1 alerts raised, 2 error')
    .option('--stall-after <seconds>', 'raise stalled-log when the checkpoint neither grew nor was re-signed for this long')
    .addOption(new Option('--failures-before-alert <n>', 'consecutive failed polls before log-unreachable').default('3'))
    .addOption(new Option('--threads <n>', 'signature verification threads (default: one per core)'))
    .addHelpText('after', EXAMPLES)
    .action(async (options: FollowOptions) => setExit(await follow(options)));

  program
    .command('status')
    .description('print the verified tree size, last checkpoint and counts of entries, builders and open disagreements')
    .requiredOption('--state <dir>', 'state directory of a monitor')
    .option('--json', 'one JSON object instead of text')
    .addHelpText('after', '\nExample:\n  lafs-monitor status --state ~/.local/share/lafs/monitor/example.org_lafs-log\n')
    .action(async (options: { state: string; json?: boolean }) => setExit(await status(options)));

  program
    .command('disagreements')
    .description('list the disagreements found so far, with every claim as evidence')
    .requiredOption('--state <dir>', 'state directory of a monitor')
    .option('--json', 'one JSON object per line instead of text')
    .addHelpText('after', '\nExample:\n  lafs-monitor disagreements --state ~/.local/share/lafs/monitor/example.org_lafs-log --json\n')
    .action(async (options: { state: string; json?: boolean }) => setExit(await disagreements(options)));
  return program;
}

function note(line: string): void {
  process.stderr.write(`lafs-monitor: ${line}\n`);
}

async function follow(options: FollowOptions): Promise<number> {
  if (!options.log) throw new LafsError('usage', '--log <url> (or $LAFS_LOG) is required (see --help)');
  if (!options.vkey) throw new LafsError('usage', '--vkey <key> (or $LAFS_VKEY) is required (see --help)');
  let url: URL;
  try {
    url = new URL(options.log);
  } catch {
    throw new LafsError('usage', `--log: "${options.log}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LafsError('usage', `--log: "${options.log}" is not an http(s) URL`);
  if (options.webhook !== undefined) {
    try {
      new URL(options.webhook);
    } catch {
      throw new LafsError('usage', `--webhook: "${options.webhook}" is not a URL`);
    }
  }
  const verifierKey = readVerifierKey(options.vkey);
  const origin = options.origin ?? originOfKey(verifierKey);
  const intervalMs = parseSeconds('--interval', options.interval);
  const stallAfterMs = options.stallAfter === undefined ? undefined : parseSeconds('--stall-after', options.stallAfter);
  const failuresBeforeAlert = parseCount('--failures-before-alert', options.failuresBeforeAlert);
  const threads = options.threads === undefined ? availableParallelism() : parseCount('--threads', options.threads);
  const trusted = options.trust === undefined ? undefined : await parseTrust(options.trust);
  const stateDir = options.state ?? defaultStateDir(origin);

  const controller = new AbortController();
  let client: LogClient;
  try {
    // Each bundle is read once: a large cache of full tiles would only grow RSS with the log.
    client = new LogClient({ url: options.log.replace(/\/+$/, ''), verifierKey, origin, signal: controller.signal, tileCacheBytes: 1 << 20 });
  } catch (error) {
    if (error instanceof LafsError && (error.code === 'bad-key' || error.code === 'bad-request')) throw new LafsError('usage', `--vkey: ${error.message}`);
    throw error;
  }
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new LafsError('io', `cannot create state dir ${stateDir}: ${(error as Error).message}`);
  }
  const store = await openStore(dbDir(stateDir), origin);
  const pool = new VerifyPool({ threads });
  startMemlog(() => ({ next: store.nextIndex(), inFlight: pool.pending }));
  const sinks = new AlertSinks({ ...(options.webhook ? { webhook: options.webhook } : {}), ...(options.exec ? { exec: options.exec } : {}) });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      note(`${signal}: finishing the current batch, then exiting`);
      controller.abort();
    } else {
      note(`${signal} again: exiting now (the state is consistent: every batch is one synced write)`);
      process.exit(EXIT_OK);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const follower = new Follower({
    source: client,
    tiles: httpTileReader(options.log, { signal: controller.signal }),
    bundles: httpBundleReader(options.log, { signal: controller.signal }),
    fetchNote: httpNoteReader(options.log, { signal: controller.signal }),
    store,
    sinks,
    verify: (leaf) => pool.verify(leaf),
    // Catch-up: whole bundles to the workers, raw, each read once past the client's cache.
    verifyBundle: (request) => pool.verifyBundle(request),
    // A bundle in each worker, one ready, and more fetched: the workers never wait for the main
    // thread's HTTP or LevelDB write (about 200 KB of memory per bundle in flight).
    prefetch: threads + 2,
    rawBundles: httpRawBundleReader(options.log, { signal: controller.signal }),
    sha256: nodeSha256,
    signal: controller.signal,
    once: options.once ?? false,
    intervalMs,
    failuresBeforeAlert,
    ...(stallAfterMs !== undefined ? { stallAfterMs } : {}),
    ...(trusted ? { trusted } : {}),
    log: note,
    afterPoll: () => writeSnapshot(stateDir, store),
    // During a long catch-up too: `status` reads this snapshot while the monitor holds the lock.
    onProgress: () => writeSnapshot(stateDir, store),
  });
  note(`following ${origin} at ${options.log}; state in ${stateDir}`);
  try {
    const result = await follower.run();
    await writeSnapshot(stateDir, store).catch(() => undefined);
    if (options.once) return result.alertsRaised > 0 || result.inconsistent ? EXIT_ALERTS : EXIT_OK;
    return EXIT_OK;
  } catch (error) {
    // A poll aborted by a signal is a clean stop, not an error.
    if (controller.signal.aborted && !(error instanceof LafsError && error.code === 'io')) return EXIT_OK;
    throw error;
  } finally {
    await pool.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Opens the state for following. `lafs-monitor status` opens it too when no monitor holds it, for
 * the few milliseconds a read takes: a monitor starting at that moment finds the LevelDB lock
 * taken, and waits a little for it instead of exiting 2. A lock still held after that is another
 * monitor on the same state dir, and an error.
 */
async function openStore(dir: string, origin: string): Promise<IndexStore> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    try {
      return await IndexStore.open(dir, origin, { create: true });
    } catch (error) {
      if (!isLockHeld(error) || Date.now() >= deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Whether opening LevelDB failed because another process holds its lock. */
function isLockHeld(error: unknown): boolean {
  for (let e = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.code === 'LEVEL_LOCKED' || (typeof e.message === 'string' && /\block\b.*(temporarily unavailable|already held)/i.test(e.message))) return true;
  }
  return false;
}

interface Snapshot { writtenAt: string; status: StoreStatus; disputes: DisputeRecord[] }

/** status.json, replaced atomically, so `status` works while the monitor holds the LevelDB lock. */
async function writeSnapshot(stateDir: string, store: IndexStore): Promise<void> {
  const snapshot: Snapshot = { writtenAt: new Date().toISOString(), status: await store.status(), disputes: await store.disputes() };
  const tmp = snapshotFile(stateDir) + '.tmp';
  writeFileSync(tmp, JSON.stringify(snapshot) + '\n', { mode: 0o600 });
  renameSync(tmp, snapshotFile(stateDir));
}

/** The live state if no monitor holds it, else the snapshot the running monitor last wrote. */
async function readState(stateDir: string): Promise<Snapshot & { live: boolean }> {
  if (!existsSync(dbDir(stateDir))) throw new LafsError('usage', `--state ${stateDir}: no monitor state there (a monitor creates it on its first run)`);
  let store: IndexStore;
  try {
    store = await IndexStore.open(dbDir(stateDir), undefined, { create: false });
  } catch (error) {
    let text: string;
    try {
      text = readFileSync(snapshotFile(stateDir), 'utf8');
    } catch {
      throw error;
    }
    return { ...(JSON.parse(text) as Snapshot), live: false };
  }
  try {
    return { writtenAt: new Date().toISOString(), status: await store.status(), disputes: await store.disputes(), live: true };
  } finally {
    await store.close();
  }
}

async function status(options: { state: string; json?: boolean }): Promise<number> {
  const state = await readState(options.state);
  const s = state.status;
  if (options.json) {
    process.stdout.write(JSON.stringify({ ...s, live: state.live, asOf: state.writtenAt }) + '\n');
    return EXIT_OK;
  }
  const lines = [
    `log:                ${s.origin}`,
    `verified size:      ${s.checkpoint?.size ?? 'none yet'}`,
    `entries processed:  ${s.entriesProcessed}`,
    `builders:           ${s.builders}`,
    `open disagreements: ${s.openDisagreements}`,
    `agreeing keys:      ${s.agreedKeys ?? 0} (artifacts attested by 2+ builders, all with one hash)`,
    `alerts raised:      ${Object.entries(s.alerts).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}`,
  ];
  if (s.pendingDeliveries > 0) lines.push(`undelivered alerts: ${s.pendingDeliveries} (a webhook or command has not taken them yet; retried with backoff)`);
  if (!state.live) lines.push(`(a monitor is running: figures as of ${state.writtenAt})`);
  lines.push('last checkpoint:', ...(s.checkpoint ? s.checkpoint.note.trimEnd().split('\n').map((l) => `  ${l}`) : ['  none']));
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}

async function disagreements(options: { state: string; json?: boolean }): Promise<number> {
  const state = await readState(options.state);
  if (options.json) {
    for (const d of state.disputes) process.stdout.write(JSON.stringify(d) + '\n');
    return EXIT_OK;
  }
  if (state.disputes.length === 0) {
    process.stdout.write('no disagreements\n');
    return EXIT_OK;
  }
  for (const d of state.disputes) {
    process.stdout.write(`${d.kinds.join(' + ')}: ${d.key.name}  platform ${d.key.platform ?? '(none)'}  source ${d.key.source}\n`);
    process.stdout.write(`  first seen ${d.firstSeen} under checkpoint size ${d.checkpoint.size}\n`);
    for (const c of d.claims) process.stdout.write(`  entry ${c.index}  builder ${c.builder}  ${c.hash}\n`);
  }
  return EXIT_OK;
}

async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed its one-line reason already; help and version are not errors.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version') return EXIT_OK;
      return EXIT_USAGE_OR_IO;
    }
    const message = error instanceof Error ? error.message : String(error);
    note(message.split('\n')[0]!);
    return EXIT_USAGE_OR_IO;
  }
}

// Exit explicitly: idle keep-alive sockets must not hold a finished run open (stdout to a pipe or file is synchronous on Linux).
process.exit(await main(process.argv));
