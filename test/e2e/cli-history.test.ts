/**
 * A log that rewrites its history is caught by the checkpoint lafs-verify remembers: two servers
 * share one signing key (copies of one data directory) but hold different entries, as a log
 * that forked or rolled back would. A user who verified against the first must get exit 5 from
 * the second, online (consistency proof or same-size root) and offline (bundle of the same size).
 */
import test from 'ava';
import { cpSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run, type RunResult } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const work = tempDir('lafs-history-');

function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: RunResult, code: number): void {
  t.is(r.code, code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

test('a forked log (same key, different history) fails with exit 5 online and offline', async (t) => {
  // One key, two histories.
  const seed = tempDir('lafs-seed-');
  const first = await startServer({ dataDir: seed });
  const vkey = first.verifierKey;
  await first.stop();
  const dirA = tempDir('lafs-a-');
  const dirB = tempDir('lafs-b-');
  cpSync(seed, dirA, { recursive: true });
  cpSync(seed, dirB, { recursive: true });

  const keyDir = join(work, 'key');
  const keygen = await run('lafs', ['keygen', '--name', 'Alice <alice@example.org>', '--out', keyDir]);
  ok(t, keygen, 0);
  const trust = join(keyDir, 'public-key.asc');
  const artifact = join(work, 'app.tar.gz');
  writeFileSync(artifact, randomBytes(10_000));
  const attest = (url: string, platform: string, out: string) => run('lafs', ['attest', '--source', `git:${'a'.repeat(40)}`, '--platform', platform, '--key', join(keyDir, 'private-key.asc'), '--out', join(work, out), '--submit', '--log', url, '--vkey', vkey, artifact]);
  const user = { XDG_CONFIG_HOME: tempDir('lafs-xdg-') };
  const verify = (args: string[]) => run('lafs-verify', [artifact, '--vkey', vkey, '--trust', trust, '--threshold', '1', ...args], { env: user });

  const a = await startServer({ dataDir: dirA });
  try {
    t.is(a.verifierKey, vkey);
    ok(t, await attest(a.url, 'x86_64-linux-gnu', 'a1'), 0);
    ok(t, await verify(['--log', a.url]), 0); // remembers size 1 of history A
  } finally {
    await a.stop();
  }

  const b = await startServer({ dataDir: dirB });
  try {
    t.is(b.verifierKey, vkey);
    ok(t, await attest(b.url, 'aarch64-linux-gnu', 'b1'), 0);
    // Same size, different root.
    const sameSize = await verify(['--log', b.url, '--json']);
    ok(t, sameSize, 5);
    t.regex(JSON.parse(sameSize.stdout).reason, /rewrote its history/);
    const bundle = join(work, 'b.json');
    ok(t, await run('lafs', ['bundle', '--log', b.url, '--vkey', vkey, '--hash', `sha256:${'0'.repeat(64)}`, '-o', bundle]), 0);
    const offline = await verify(['--bundle', bundle]);
    ok(t, offline, 5);
    t.regex(offline.stdout, /forked its history/);
    // Larger, but not an extension of what the user saw: the consistency proof fails.
    ok(t, await attest(b.url, 'x86_64-linux-gnu', 'b2'), 0);
    const grown = await verify(['--log', b.url]);
    ok(t, grown, 5);
    t.regex(grown.stdout, /not consistent with the one verified earlier \(size 1/);
    // A user who never saw history A has nothing to compare with: history B verifies for them.
    ok(t, await run('lafs-verify', [artifact, '--log', b.url, '--vkey', vkey, '--trust', trust, '--threshold', '1'], { env: { XDG_CONFIG_HOME: tempDir('lafs-xdg-') } }), 0);
  } finally {
    await b.stop();
  }
});
