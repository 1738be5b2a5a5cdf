/** Temporary directories removed when the test file's process exits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'lafs-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** The repository root (tests run from dist/test/...). */
export const repoRoot = new URL('../../../', import.meta.url).pathname;
/** The shared fixtures folder beside the repository. */
export const fixturesDir = join(repoRoot, '..', 'shared', 'fixtures');
