#!/usr/bin/env node
/**
 * `lafs-log`: the log server program (DESIGN.md section 5; docs/operating.md).
 *   lafs-log serve [--data DIR] [--port N] [--host H] [--origin NAME] [--rate-limit N] [--workers N] [--inflight-bytes N]
 *   lafs-log key [--data DIR]
 * Usage errors exit 2 with one line on stderr; other failures exit 1. Once listening, `serve` prints
 * exactly three lines on stdout (URL, origin, verifier key); its structured log (pino) goes to stderr.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { LafsError } from '../merkle/errors.js';
import { serveConfig } from './config.js';
import { CheckpointSigner } from './signer.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function fail(e: unknown): never {
  const usage = e instanceof LafsError && e.code === 'usage';
  process.stderr.write(`lafs-log: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
}

async function serve(options: Record<string, string | undefined>): Promise<void> {
  const config = serveConfig(options, availableParallelism());
  // Loaded only now: the server pulls in openpgp and express, which `key`, `--help` and usage errors do not need.
  const { startLogServer } = await import('./server.js');
  const log = pino({ level: process.env.LAFS_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  const running = await startLogServer(config, log);
  process.stdout.write(`lafs-log listening on ${running.url}\norigin: ${running.origin}\nverifier key: ${running.verifierKey}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: (e as Error).message }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const program = new Command('lafs-log')
  .description('LAFS build transparency log server')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('serve')
  .description('serve the log from a data directory, creating it (and its checkpoint key) on first start')
  .option('--data <dir>', 'data directory', './data')
  .option('--port <n>', 'TCP port (0 = any free port)', '8080')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--origin <name>', 'checkpoint origin, fixed on first start (default: the data directory\'s own; <hostname>/lafs-log for a new one)')
  .option('--rate-limit <n>', 'submissions per second per client IP, 0 = unlimited', '20')
  .option('--workers <n>', 'signature verification threads (default: one per core)')
  .option('--inflight-bytes <n>', 'submission bytes held at once before new ones get 503 (default: 64 MiB)')
  .addHelpText(
    'after',
    `
Examples:
  lafs-log serve --data /var/lib/lafs --origin example.org/lafs-log
  lafs-log serve --port 0 --rate-limit 0        # any free port, no rate limit (tests)

Once listening it prints, on stdout:
  lafs-log listening on http://HOST:PORT
  origin: ORIGIN
  verifier key: VKEY`,
  )
  .action(serve);

program
  .command('key')
  .description('print the verifier key of a data directory (never the signer key)')
  .option('--data <dir>', 'data directory', './data')
  .addHelpText('after', '\nExample:\n  lafs-log key --data /var/lib/lafs')
  .action((options: { data: string }) => {
    process.stdout.write(`${CheckpointSigner.verifierKeyOf(resolve(options.data))}\n`);
  });

program.addHelpText('after', '\nExamples:\n  lafs-log serve --data ./data --port 8080\n  lafs-log key --data ./data');

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
    if (e.code === 'commander.executeSubCommandAsync') process.exit(e.exitCode);
    process.exit(EXIT_USAGE); // commander already printed the one-line reason
  }
  fail(e);
}
