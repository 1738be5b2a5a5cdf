/**
 * Child process for test/attestation/platform-regex.test.ts: matches a pattern that costs a few
 * tens of milliseconds of CPU per call, over and over, while the test stops this process with
 * SIGSTOP (a thread descheduled past its budget, as on a loaded machine). Prints one JSON line:
 * how many calls there were, how many took longer than the budget in wall time, and the errors.
 */
import { matchPlatforms } from '../../attestation/platform-regex.js';

const BUDGET_MS = 200;
const pattern = '^(?<platform>(a|a)*)b';
// Calibrate: the shortest run of "a" whose match costs at least 20 ms of CPU (exponential in n).
let name = 'a'.repeat(14);
for (;;) {
  const before = process.cpuUsage();
  matchPlatforms(pattern, [name], 10_000);
  const used = process.cpuUsage(before);
  if ((used.user + used.system) / 1000 >= 20) break;
  name += 'a';
}
process.stdout.write('ready\n');
const deadline = performance.now() + Number(process.argv[2] ?? 3000);
let calls = 0;
let stalled = 0;
const errors: string[] = [];
while (performance.now() < deadline) {
  const started = performance.now();
  try {
    matchPlatforms(pattern, [name], BUDGET_MS);
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (performance.now() - started > BUDGET_MS) stalled++;
  calls++;
}
process.stdout.write(JSON.stringify({ calls, stalled, errors, nameLength: name.length }) + '\n');
