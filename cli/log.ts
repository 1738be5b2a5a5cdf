/**
 * Opening a log from command-line options. The verifier key pins the log's identity: every
 * checkpoint is checked against it (C2SP signed note). Commands that only read one entry accept
 * a missing --vkey by asking the log for its own key, and say loudly that it is not pinned.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogClient } from '../client/log-client.js';
import { LafsError } from '../merkle/errors.js';
import { LOG_ENV, VKEY_ENV } from './program.js';

export interface LogOptions { log?: string; vkey?: string }

/**
 * Where to get the verifier key, said the same way by every command that requires it: submissions
 * (submit, import-sums, attest --submit) and bundles pin the log, because the receipt or bundle
 * they keep is only worth the key it was checked with.
 */
export function vkeyAdvice(log: string | undefined): string {
  return `the log's verifier key (name+hex+base64) pins which log signs what you keep; get it from the log's operator (\`lafs-log key --data DIR\` on the log's host prints it) or, trusting whoever answers, from the "verifierKey" field of GET ${log ?? 'URL'}/v1/log`;
}

export function openLog(options: LogOptions, command: string): LogClient {
  if (!options.log) throw new LafsError('usage', `${command}: --log URL (or $${LOG_ENV}) is required (the log server or a mirror of its tiles)`);
  if (!options.vkey) throw new LafsError('usage', `${command}: --vkey KEY (or $${VKEY_ENV}) is required: ${vkeyAdvice(options.log)}`);
  return new LogClient({ url: options.log, verifierKey: options.vkey });
}

/**
 * For read-only commands: use --vkey, or ask the log server for its key (GET /v1/log through the
 * client's transport: timeouts, retries) and warn that it is unpinned. A static mirror cannot tell
 * its key; the client's error says to pass --vkey.
 */
export async function openLogForReading(options: LogOptions, command: string): Promise<LogClient> {
  if (options.vkey || !options.log) return openLog(options, command);
  const info = await LogClient.logInfo(options.log);
  process.stderr.write(`${command}: warning: using the verifier key the log itself reports (${info.verifierKey}); pass --vkey to pin it\n`);
  return new LogClient({ url: options.log, verifierKey: info.verifierKey });
}

/** The package version, for --version. */
export function packageVersion(): string {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    for (const up of [join(here, '..', 'package.json'), join(here, '..', '..', 'package.json')]) {
      try {
        const pkg = JSON.parse(readFileSync(up, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'lafs' && pkg.version) return pkg.version;
      } catch { /* try the next candidate */ }
    }
  } catch { /* fall through */ }
  return '0.0.0';
}
