/** The real guix.sigs 27.0 fixture (../shared/fixtures/guix-sigs/README.md) as attestation tests use it. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/tmp.js';

export const guixRelease = join(fixturesDir, 'guix-sigs', '27.0');
export const guixKeys = join(fixturesDir, 'guix-sigs', 'builder-keys');

/** Derives the platform from a Bitcoin Core 27.0 file name; the source tarball and codesignatures bundle do not match. */
export const BITCOIN_PLATFORM_REGEX = String.raw`^bitcoin-27\.0-(?<platform>[a-z0-9_]+(?:-[a-z0-9_]+)*?)(?:-debug|-unsigned|-setup-unsigned|-setup)?\.(?:tar\.gz|zip|exe|dmg)$`;

/** Every `<builder>/<set>.SHA256SUMS` file of the release (35). */
export const guixSumsFiles: string[] = readdirSync(guixRelease).flatMap((builder) =>
  readdirSync(join(guixRelease, builder))
    .filter((f) => f.endsWith('.SHA256SUMS'))
    .map((f) => join(guixRelease, builder, f)),
);
