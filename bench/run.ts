/**
 * `npm run bench`: runs every benchmark module in bench/ (files named *.bench.js after the build)
 * in its own process, one after the other, and prints one JSON object per benchmark on stdout.
 * `npm run bench -- merkle` runs only those whose file name contains "merkle".
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(here).filter((f) => f.endsWith('.bench.js') && f.includes(filter)).sort();
let failed = 0;
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`);
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
