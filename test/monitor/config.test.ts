/**
 * lafs-monitor's command-line settings (monitor/config.ts): seconds and counts checked with the
 * option named, the per-log default state dir, verifier keys from strings or files, --trust.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LafsError } from '../../merkle/errors.js';
import { defaultStateDir, originOfKey, parseCount, parseSeconds, parseTrust, readVerifierKey, sanitizeOrigin } from '../../monitor/config.js';
import { makeBuilder } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';

test('seconds: positive decimals only, the option named in the error', (t) => {
  t.is(parseSeconds('--interval', '60'), 60_000);
  t.is(parseSeconds('--interval', '0.25'), 250);
  for (const bad of ['0', '-1', 'abc', '1e3', '', ' ']) {
    const error = t.throws(() => parseSeconds('--stall-after', bad), { instanceOf: LafsError });
    t.is(error?.code, 'usage');
    t.regex(error?.message ?? '', /^--stall-after: /);
  }
  t.is(parseCount('--threads', '4'), 4);
  t.throws(() => parseCount('--threads', '0'), { message: /--threads/ });
});

test('default state dir: per log, under XDG_DATA_HOME or ~/.local/share, origin sanitized', (t) => {
  t.is(defaultStateDir('example.org/lafs-log', { XDG_DATA_HOME: '/data' }), '/data/lafs/monitor/example.org_lafs-log');
  t.is(defaultStateDir('example.org/lafs-log', { HOME: '/home/u' }), '/home/u/.local/share/lafs/monitor/example.org_lafs-log');
  t.is(defaultStateDir('x', { XDG_DATA_HOME: 'relative', HOME: '/h' }), '/h/.local/share/lafs/monitor/x', 'a relative XDG_DATA_HOME is ignored, as the spec says');
  t.is(sanitizeOrigin('../../etc'), '__.._etc', 'no separator survives and no leading dot: never a path out of the data dir');
  t.is(sanitizeOrigin('a b:c'), 'a_b_c');
});

test('verifier key from the argument or a file; its name is the default origin', (t) => {
  const key = 'example.org/lafs-log+1a2b3c4d+AQIDBA==';
  t.is(readVerifierKey(key), key);
  const file = join(tempDir(), 'log.vkey');
  writeFileSync(file, key + '\n');
  t.is(readVerifierKey(file), key);
  t.throws(() => readVerifierKey(join(tempDir(), 'missing')), { message: /--vkey/ });
  t.is(originOfKey(key), 'example.org/lafs-log');
});

test('--trust: fingerprints, a fingerprint list file, an armored key file', async (t) => {
  const builder = await makeBuilder('Trusted');
  const dir = tempDir();
  const keyFile = join(dir, 'key.asc');
  writeFileSync(keyFile, builder.armoredPublicKey);
  const list = join(dir, 'list.txt');
  writeFileSync(list, `# ops team\n${'B'.repeat(40)}\n\n`);
  const trusted = await parseTrust(`${'a'.repeat(40)}, ${list},${keyFile}`);
  t.deepEqual([...trusted].sort(), ['a'.repeat(40), 'b'.repeat(40), builder.fingerprint].sort());
  await t.throwsAsync(parseTrust('nothing-here'), { message: /--trust: "nothing-here"/ });
  writeFileSync(list, 'not a fingerprint\n');
  await t.throwsAsync(parseTrust(list), { message: /line 1/ });
});
