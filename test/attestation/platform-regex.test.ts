import test from 'ava';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LafsError } from '../../merkle/errors.js';
import { matchPlatforms } from '../../attestation/platform-regex.js';

const child = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'helpers', 'regex-stall-child.js');

test('a thread stalled past the budget with a harmless pattern is not rejected (the budget is CPU time)', async (t) => {
  if (process.platform !== 'linux') return t.pass('thread CPU time is read from /proc on Linux only');
  const proc = spawn(process.execPath, [child, '3000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  for (let i = 0; i < 600 && !out.includes('ready\n'); i++) await sleep(50);
  t.true(out.includes('ready\n'), 'child calibrated');
  await sleep(300);
  // Two stops of 700 ms: each lands inside a ~20-60 ms match and stretches it past the 200 ms budget.
  for (let i = 0; i < 2; i++) {
    proc.kill('SIGSTOP');
    await sleep(700);
    proc.kill('SIGCONT');
    await sleep(300);
  }
  await new Promise((resolve) => proc.on('exit', resolve));
  const result = JSON.parse(out.split('\n').filter(Boolean).pop()!) as { calls: number; stalled: number; errors: string[] };
  t.true(result.stalled >= 1, `a match was stretched past its budget (${JSON.stringify(result)})`);
  t.deepEqual(result.errors, []);
});

test('a pattern that really burns its budget is still cut off', (t) => {
  const started = performance.now();
  const error = t.throws(() => matchPlatforms('^(?<platform>(a+)+)$', ['a'.repeat(40) + '!'], 100), { instanceOf: LafsError });
  t.regex(error?.message ?? '', /^claims\.platformRegex: matching the file names took over 100 ms/);
  t.true(performance.now() - started < 100 * 20 + 500, 'bounded by the wall-clock cap');
});
