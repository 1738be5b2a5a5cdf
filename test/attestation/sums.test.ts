/** sha256sums statements: coreutils format, duplicates, claims, and platforms derived by regex from the real guix.sigs files. */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { LafsError } from '../../merkle/errors.js';
import { parseSums, sumsArtifacts, validateClaims, viewSums, type SumsClaims } from '../../attestation/sums.js';
import { BITCOIN_PLATFORM_REGEX, guixSumsFiles as sumsFiles } from './guix-fixture.js';

const enc = (s: string) => new TextEncoder().encode(s);
const H1 = '1'.repeat(64);
const H2 = 'ab'.repeat(32);
const SRC = `sha256:${'c'.repeat(64)}`;
test('every guix.sigs 27.0 sums file parses, with 27 or 23 lines and no duplicates', (t) => {
  t.is(sumsFiles.length, 35);
  for (const file of sumsFiles) {
    const bytes = readFileSync(file);
    const text = bytes.toString('utf8');
    const parsed = parseSums(bytes);
    t.is(parsed.lines.length, file.endsWith('/all.SHA256SUMS') ? 27 : 23, file);
    t.deepEqual(parsed.duplicates, [], file);
    // Each parsed line is literally in the file.
    for (const l of parsed.lines) t.true(text.includes(`${l.sha256}  ${l.name}\n`), `${file}: ${l.name}`);
    t.true(parsed.lines.every((l) => !l.binary));
  }
});

test('the Bitcoin platform regex derives each platform, and the source tarball gets none', (t) => {
  const claims = validateClaims({ source: SRC, platformRegex: BITCOIN_PLATFORM_REGEX });
  const expectedPlatforms = new Set([
    'aarch64-linux-gnu',
    'arm-linux-gnueabihf',
    'arm64-apple-darwin',
    'powerpc64-linux-gnu',
    'powerpc64le-linux-gnu',
    'riscv64-linux-gnu',
    'x86_64-apple-darwin',
    'x86_64-linux-gnu',
    'win64',
  ]);
  for (const file of sumsFiles) {
    const view = viewSums(parseSums(readFileSync(file)), claims);
    const byName = new Map(view.artifacts.map((a) => [a.name, a.platform]));
    t.is(byName.get('bitcoin-27.0.tar.gz'), null, file);
    t.is(byName.get('bitcoin-27.0-x86_64-linux-gnu.tar.gz'), 'x86_64-linux-gnu');
    t.is(byName.get('bitcoin-27.0-x86_64-linux-gnu-debug.tar.gz'), 'x86_64-linux-gnu');
    t.is(byName.get('bitcoin-27.0-arm64-apple-darwin-unsigned.tar.gz'), 'arm64-apple-darwin');
    t.is(byName.get('bitcoin-27.0-win64-setup-unsigned.exe'), 'win64');
    t.is(byName.get('bitcoin-27.0-win64-debug.zip'), 'win64');
    const derived = new Set(view.artifacts.map((a) => a.platform).filter((p) => p !== null));
    t.deepEqual(derived, expectedPlatforms, file);
    t.true(view.flags.includes('no-platform: bitcoin-27.0.tar.gz'));
    // Only the source tarball and the codesignatures bundle carry no platform.
    t.deepEqual(
      view.flags.filter((f) => f.startsWith('no-platform')).sort(),
      ['no-platform: bitcoin-27.0.tar.gz', ...(file.endsWith('/all.SHA256SUMS') ? ['no-platform: bitcoin-27.0-codesignatures-27.0.tar.gz'] : [])].sort(),
    );
    t.deepEqual(sumsArtifacts(parseSums(readFileSync(file)), claims), view.artifacts);
  }
});

test('a fixed platform label applies to every line', (t) => {
  const parsed = parseSums(enc(`${H1}  a.tar.gz\n${H2} *b.zip\n`));
  t.deepEqual(sumsArtifacts(parsed, { source: SRC, platform: 'win64' }), [
    { platform: 'win64', name: 'a.tar.gz', sha256: H1 },
    { platform: 'win64', name: 'b.zip', sha256: H2 },
  ]);
  t.deepEqual(parsed.lines.map((l) => l.binary), [false, true]);
});

test('coreutils variants: uppercase hex recorded lowercase, binary marker, no final newline, CRLF', (t) => {
  const parsed = parseSums(enc(`${H2.toUpperCase()} *Setup.exe\r\n${H1}  readme.txt`));
  t.deepEqual(parsed.lines, [
    { line: 1, name: 'Setup.exe', sha256: H2, binary: true },
    { line: 2, name: 'readme.txt', sha256: H1, binary: false },
  ]);
});

test('a name listed twice with two hashes is kept twice and flagged; an exact repeat is kept once', (t) => {
  const parsed = parseSums(enc(`${H1}  a.tar.gz\n${H2}  b.zip\n${H2}  a.tar.gz\n${H1} *a.tar.gz\n${H2}  b.zip\n`));
  t.deepEqual(parsed.lines, [
    { line: 1, name: 'a.tar.gz', sha256: H1, binary: false },
    { line: 2, name: 'b.zip', sha256: H2, binary: false },
    { line: 3, name: 'a.tar.gz', sha256: H2, binary: false },
  ]);
  t.deepEqual(parsed.duplicates, ['a.tar.gz']);
  const view = viewSums(parsed, { source: SRC, platform: 'linux' });
  t.deepEqual(view.flags, ['duplicate-name: a.tar.gz']);
  t.is(view.artifacts.length, 3);
});

const rejected: [string, string | Uint8Array, RegExp][] = [
  ['empty file', '', /^sums file is empty$/],
  ['blank line', `${H1}  a\n\n${H2}  b\n`, /^line 2: blank line$/],
  ['whitespace-only line', `${H1}  a\n  \n`, /^line 2: blank line$/],
  ['trailing empty line', `${H1}  a\n\n`, /^line 2: blank line$/],
  ['one space only', `${H1} a\n`, /^line 1: must be "<64 hex>  <name>" or "<64 hex> \*<name>"/],
  ['tab separator', `${H1}\ta\n`, /^line 1: must be "<64 hex>  <name>"/],
  ['short hash', `${H1.slice(1)}  a\n`, /^line 1: must be "<64 hex>  <name>"/],
  ['BSD tag format', `SHA256 (a) = ${H1}\n`, /^line 1: must be "<64 hex>  <name>"/],
  ['comment', `# sums\n${H1}  a\n`, /^line 1: must be/],
  ['escaped name', `\\${H1}  a\\nb\n`, /^line 1: escaped file names/],
  ['path name', `${H1}  dist/a.tar.gz\n`, /^line 1: artifact name must be a base name without '\/'/],
  ['empty name', `${H1}  \n`, /^line 1: artifact name is empty$/],
  ['control char in name', `${H1}  a\u0007b\n`, /^line 1: artifact name contains a control character/],
  ['CR inside a name', `${H1}  a\rb\n`, /^line 1: artifact name contains a control character/],
  ['invalid UTF-8', new Uint8Array([...enc(`${H1}  a\n${H1}  `), 0xff, 0x0a]), /^line 2: not valid UTF-8$/],
  ['over the size cap', `${H1}  a\n`.repeat(1000), /^sums file is \d+ bytes, over the limit of 65535$/],
];

for (const [title, input, message] of rejected) {
  test(`rejects: ${title}`, (t) => {
    const error = t.throws(() => parseSums(typeof input === 'string' ? enc(input) : input), { instanceOf: LafsError, message });
    t.is(error?.code, 'bad-sums');
  });
}

test('validateClaims accepts exactly one of platform / platformRegex and returns only known fields', (t) => {
  t.deepEqual(validateClaims({ source: SRC, platform: 'win64' }), { source: SRC, platform: 'win64' });
  t.deepEqual(validateClaims({ platformRegex: '(?<platform>.+)', source: `git:${'a'.repeat(40)}` }), {
    source: `git:${'a'.repeat(40)}`,
    platformRegex: '(?<platform>.+)',
  });
  t.deepEqual(validateClaims({ source: SRC, platform: 'p', platformRegex: undefined }), { source: SRC, platform: 'p' });
});

const badClaims: [string, unknown, RegExp][] = [
  ['not an object', 'win64', /^claims: must be an object/],
  ['null', null, /^claims: must be an object/],
  ['array', [SRC], /^claims: must be an object/],
  ['unknown field', { source: SRC, platform: 'p', builder: 'me' }, /^claims\.builder: unknown field$/],
  ['missing source', { platform: 'p' }, /^claims\.source: required/],
  ['bad source', { source: 'sha256:XYZ', platform: 'p' }, /^claims\.source: source must be/],
  ['source not a string', { source: 42, platform: 'p' }, /^claims\.source: required/],
  ['neither platform', { source: SRC }, /^claims: one of platform or platformRegex is required$/],
  ['both', { source: SRC, platform: 'p', platformRegex: '(?<platform>x)' }, /^claims: give exactly one/],
  ['bad platform', { source: SRC, platform: 'win 64' }, /^claims\.platform: platform must be/],
  ['platform not a string', { source: SRC, platform: 64 }, /^claims\.platform: must be a string$/],
  ['regex not a string', { source: SRC, platformRegex: /x/ }, /^claims\.platformRegex: must be a string$/],
  ['regex empty', { source: SRC, platformRegex: '' }, /^claims\.platformRegex: must not be empty$/],
  ['regex invalid', { source: SRC, platformRegex: '(?<platform>[a-z' }, /^claims\.platformRegex: is not a valid regular expression/],
  ['regex invalid under u flag', { source: SRC, platformRegex: '(?<platform>\\_)' }, /^claims\.platformRegex: is not a valid regular expression/],
  ['regex unbalanced but wrap-valid', { source: SRC, platformRegex: '(?<platform>a))|((b' }, /^claims\.platformRegex: is not a valid regular expression/],
  ['regex without the group', { source: SRC, platformRegex: '^bitcoin-(.*)\\.zip$' }, /^claims\.platformRegex: must have a named group \(\?<platform>/],
  ['regex with an escaped look-alike', { source: SRC, platformRegex: '\\(?<platform>x' }, /^claims\.platformRegex: must have a named group/],
  ['regex too long', { source: SRC, platformRegex: `(?<platform>${'a'.repeat(300)})` }, /^claims\.platformRegex: must be at most 256 characters/],
  ['regex lone surrogate', { source: SRC, platformRegex: '(?<platform>\ud800)' }, /^claims\.platformRegex: is not well-formed Unicode/],
];

for (const [title, claims, message] of badClaims) {
  test(`validateClaims rejects: ${title}`, (t) => {
    const error = t.throws(() => validateClaims(claims), { instanceOf: LafsError, message });
    t.is(error?.code, 'bad-request');
  });
}

test('regex values that break the platform rule give no platform and a bad-platform flag', (t) => {
  const parsed = parseSums(enc(`${H1}  foo-x86 64.tar.gz\n${H2}  foo-win64.zip\n${H1}  other\n`));
  const claims: SumsClaims = validateClaims({ source: SRC, platformRegex: '^foo-(?<platform>[^.]+)\\.' });
  const view = viewSums(parsed, claims);
  t.deepEqual(
    view.artifacts.map((a) => a.platform),
    [null, 'win64', null],
  );
  t.deepEqual(view.flags, ['bad-platform: foo-x86 64.tar.gz', 'no-platform: other']);
});

test('an optional platform group that takes no part counts as no platform', (t) => {
  const parsed = parseSums(enc(`${H1}  foo.tar.gz\n${H2}  foo-win64.zip\n`));
  const view = viewSums(parsed, validateClaims({ source: SRC, platformRegex: '^foo(?:-(?<platform>[a-z0-9]+))?\\.' }));
  t.deepEqual(view.artifacts.map((a) => a.platform), [null, 'win64']);
  t.deepEqual(view.flags, ['no-platform: foo.tar.gz']);
});

test('catastrophic backtracking is cut off by the time budget with an error naming the claim', (t) => {
  // Valid, has the group, short: exponential on a long run of "a" that ends badly.
  const claims = validateClaims({ source: SRC, platformRegex: '^(?<platform>(a+)+)$' });
  const parsed = parseSums(enc(`${H1}  ${'a'.repeat(40)}!\n`));
  const started = Date.now();
  const error = t.throws(() => viewSums(parsed, claims, 50), { instanceOf: LafsError, message: /^claims\.platformRegex: matching the file names took over 50 ms/ });
  t.is(error?.code, 'bad-request');
  t.true(Date.now() - started < 2000);
  // The sandbox stays usable afterwards.
  t.deepEqual(viewSums(parseSums(enc(`${H1}  aaa\n`)), claims, 50).artifacts[0]?.platform, 'aaa');
});

test('property: any byte change in a real sums file parses or fails with bad-sums naming a line, never anything else', (t) => {
  const original = new Uint8Array(readFileSync(sumsFiles[0]!));
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (position, byte) => {
      const changed = original.slice();
      changed[position % changed.length] = byte;
      try {
        const parsed = parseSums(changed);
        t.true(parsed.lines.length >= 22 && parsed.lines.every((l) => /^[0-9a-f]{64}$/.test(l.sha256)));
      } catch (e) {
        t.true(e instanceof LafsError && e.code === 'bad-sums', String(e));
        t.regex((e as Error).message, /^line \d+: /);
      }
    }),
    { numRuns: 500 },
  );
});

test('viewSums with platforms derived earlier uses them, applies the rules to them, and refuses a list that does not fit', (t) => {
  const parsed = parseSums(enc(`${H1}  foo-a.tar.gz\n${H2}  foo-b.tar.gz\n`));
  // A pattern that would take forever on these names: it must not run when `derived` is given.
  const claims = validateClaims({ source: SRC, platformRegex: '^(?<platform>(a|aa)+)+$' });
  const view = viewSums(parsed, claims, 1, ['linux', null]);
  t.deepEqual(view.artifacts.map((a) => a.platform), ['linux', null]);
  t.deepEqual(view.flags, ['no-platform: foo-b.tar.gz']);
  t.deepEqual(viewSums(parsed, claims, 1, ['a b', 'ok']).flags, ['bad-platform: foo-a.tar.gz']);
  for (const derived of [['linux'], ['linux', null, null], ['linux', 7]]) {
    const e = t.throws(() => viewSums(parsed, claims, 1, derived), { instanceOf: LafsError });
    t.is(e?.code, 'bad-request');
  }
  // Without a platformRegex the label is the platform, whatever `derived` says.
  t.deepEqual(viewSums(parsed, { source: SRC, platform: 'win64' }, 1, ['x', 'y']).artifacts.map((a) => a.platform), ['win64', 'win64']);
});
