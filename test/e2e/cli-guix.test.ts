/**
 * Real multi-builder data end to end: every (builder, file) pair of the guix.sigs fixture
 * (Bitcoin Core 27.0) goes in through `lafs import-sums`, then `lafs-verify --hash` checks a real
 * release artifact trusting the fixture's builder keys. The expected agreement is what gpg itself
 * says: the builders whose signatures over a sums file listing that hash gpg accepts.
 */
import test from 'ava';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/process.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { GpgHome } from '../helpers/gpg.js';
import { guixEntries, guixSigsDir } from '../helpers/submissions.js';

/**
 * The platform of each Bitcoin Core 27.0 file name, as a plain alternation: linear to match, so the
 * server's time budget for claim regexes holds even on a machine as loaded as CI.
 */
const PLATFORM_REGEX = '^bitcoin-27\\.0-(?<platform>aarch64-linux-gnu|arm-linux-gnueabihf|arm64-apple-darwin|powerpc64-linux-gnu|powerpc64le-linux-gnu|riscv64-linux-gnu|win64|x86_64-apple-darwin|x86_64-linux-gnu)[-.]';

const TARGET_NAME = 'bitcoin-27.0-x86_64-linux-gnu.tar.gz';
const keysDir = join(guixSigsDir, 'builder-keys');
const OLDER_KEYS: Record<string, string> = { davidgumberg: 'davidgumberg.2024-04.gpg', svanstaa: 'svanstaa.2023-04.gpg' };
let server: RunningServer;
const imported: { builder: string; file: string; code: number | null; stderr: string; receipt: string }[] = [];

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

test.before(async () => {
  server = await startServer();
  const entries = guixEntries();
  await pool(entries, 4, async (e) => {
    const dir = join(guixSigsDir, '27.0', e.builder);
    // A copy of the sums file, so the default receipt (SUMS.tlog-proof, beside it) is not written into the shared fixtures.
    const sums = join(tempDir('lafs-sums-'), `${e.file}.SHA256SUMS`);
    copyFileSync(join(dir, `${e.file}.SHA256SUMS`), sums);
    const r = await run('lafs', [
      'import-sums', '--log', server.url, '--vkey', server.verifierKey,
      '--sums', sums, '--signature', join(dir, `${e.file}.SHA256SUMS.asc`),
      '--public-key', join(keysDir, OLDER_KEYS[e.builder] ?? `${e.builder}.gpg`),
      '--source', e.source, '--platform-regex', PLATFORM_REGEX,
    ], { env: { XDG_CONFIG_HOME: tempDir('lafs-xdg-') } });
    imported.push({ builder: e.builder, file: e.file, code: r.code, stderr: r.stderr, receipt: `${sums}.tlog-proof` });
  });
});

test.after.always(async () => {
  await server?.stop();
});

test('every file pair of the fixture imports', (t) => {
  t.is(imported.length, 35);
  const failed = imported.filter((i) => i.code !== 0);
  t.deepEqual(failed, []);
  // Like submit, import-sums saves its receipt by default, as SUMS.tlog-proof.
  for (const i of imported) {
    t.true(existsSync(i.receipt), i.receipt);
    t.regex(readFileSync(i.receipt, 'utf8'), /^c2sp\.org\/tlog-proof@v1\nindex \d+\n/);
  }
});

test('lafs-verify --hash on a real artifact passes with the threshold gpg supports, and names the builders', async (t) => {
  // What gpg accepts: every builder whose signature over a sums file listing the target verifies.
  const gpg = GpgHome.create();
  for (const f of readdirSync(keysDir)) await gpg.importKey(join(keysDir, f));
  let targetHash = '';
  const accepted = new Set<string>();
  for (const e of guixEntries()) {
    const line = Buffer.from(e.sums).toString('utf8').split('\n').find((l) => l.endsWith(`  ${TARGET_NAME}`));
    if (!line) continue;
    targetHash ||= line.slice(0, 64);
    t.is(line.slice(0, 64), targetHash, `${e.builder} agrees (the fixture has no disagreement)`);
    const sig = readFileSync(join(guixSigsDir, '27.0', e.builder, `${e.file}.SHA256SUMS.asc`));
    const verdict = await gpg.verify(e.sums, new Uint8Array(sig));
    const valid = verdict.status.find((s) => s.startsWith('VALIDSIG '));
    if (valid) accepted.add(valid.split(' ')[10]!.toLowerCase());
  }
  t.is(accepted.size, 19, 'gpg accepts a signature from each of the 19 builders');

  const args = ['--hash', `sha256:${targetHash}`, '--log', server.url, '--vkey', server.verifierKey, '--trust', keysDir];
  const env = { XDG_CONFIG_HOME: tempDir('lafs-xdg-') };
  const [pass, json, tooMany, narrowed] = await Promise.all([
    run('lafs-verify', [...args, '--threshold', String(accepted.size)], { env }),
    run('lafs-verify', [...args, '--threshold', String(accepted.size), '--json'], { env: { XDG_CONFIG_HOME: tempDir('lafs-xdg-') } }),
    run('lafs-verify', [...args, '--threshold', String(accepted.size + 1)], { env: { XDG_CONFIG_HOME: tempDir('lafs-xdg-') } }),
    run('lafs-verify', [...args, '--threshold', String(accepted.size), '--platform', 'x86_64-linux-gnu', '--source', guixEntries()[0]!.source], { env: { XDG_CONFIG_HOME: tempDir('lafs-xdg-') } }),
  ]);
  t.is(pass.code, 0, pass.stdout + pass.stderr);
  t.regex(pass.stdout, /^VERIFIED/);
  t.regex(pass.stdout, new RegExp(`subject: +${TARGET_NAME.replace(/\./g, '\\.')} \\(source sha256:[0-9a-f]{64}, platform x86_64-linux-gnu\\)`));
  for (const fpr of accepted) t.true(pass.stdout.includes(fpr), `verdict names ${fpr}`);
  for (const name of ['Wladimir J. van der Laan', 'Ava Chow', 'Luke Dashjr', 'David Gumberg', 'Sebastian van Staa', 'Dimitri <kvaciral']) t.true(pass.stdout.includes(name), `verdict names ${name}`);
  const verdict = JSON.parse(json.stdout);
  t.is(verdict.status, 'verified');
  t.deepEqual(verdict.agree.map((a: { fingerprint: string }) => a.fingerprint).sort(), [...accepted].sort());
  t.deepEqual(verdict.disagree, []);
  t.is(verdict.log.size, 35);
  t.is(tooMany.code, 3, tooMany.stdout);
  t.is(narrowed.code, 0, narrowed.stdout + narrowed.stderr);
});
