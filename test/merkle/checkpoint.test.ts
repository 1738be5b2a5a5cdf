/** C2SP checkpoints: spec and sum.golang.org vectors, strict parsing that names the line, signed verification. */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  formatCheckpoint,
  generateKeyPair,
  LafsError,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  rootOfLeaves,
  signNote,
  verifyCheckpoint,
  type Checkpoint,
} from '../../merkle/index.js';
import { nodeEd25519 as ed } from '../../attestation/node-crypto.js';
import { repoRoot } from '../helpers/tmp.js';

const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/vectors/notes.json'), 'utf8'));
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const ROOT = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';

test('parses and re-formats the C2SP spec example byte for byte', (t) => {
  const c = vectors.c2sp;
  const cp = parseCheckpoint(c.checkpointBody);
  t.is(cp.origin, c.checkpointOrigin);
  t.is(cp.size, c.checkpointSize);
  t.is(b64(cp.root), c.checkpointRootBase64);
  t.deepEqual(cp.extensions, []);
  t.is(formatCheckpoint(cp), c.checkpointBody);
});

test('real sum.golang.org checkpoints verify (origin with spaces, extra cosignature ignored)', (t) => {
  const s = vectors.sumdb;
  const verifier = parseVerifierKey(s.verifierKey, ed);
  for (const c of s.checkpoints) {
    const result = verifyCheckpoint(c.note, verifier, s.origin);
    if (!result.ok) return t.fail(result.reason);
    t.is(result.value.checkpoint.origin, 'go.sum database tree');
    t.is(result.value.checkpoint.size, c.size);
    t.is(b64(result.value.checkpoint.root), c.rootBase64);
    t.is(result.value.note, c.note);
    t.is(formatCheckpoint(result.value.checkpoint), c.note.slice(0, c.note.indexOf('\n\n') + 1));
    // Without an explicit origin the verifier's name is expected, which sumdb does not use.
    const strict = verifyCheckpoint(c.note, verifier);
    t.false(strict.ok);
    t.regex(strict.ok ? '' : strict.reason, /origin "go\.sum database tree" is not the expected "sum\.golang\.org"/);
  }
});

test('LAFS vector: the example log key signs the RFC 6962 size-7 root to the recorded note', (t) => {
  const l = vectors.lafs;
  const leaves = l.tlogProof.leavesHex.map((h: string) => new Uint8Array(Buffer.from(h, 'hex')));
  const root = rootOfLeaves(leaves);
  t.is(Buffer.from(root).toString('hex'), l.checkpoint.rootHex);
  const body = formatCheckpoint({ origin: l.name, size: l.checkpoint.size, root, extensions: [] });
  t.is(body, l.checkpoint.body);
  t.deepEqual(generateKeyPair(l.name, ed, new Uint8Array(Buffer.from(l.seedHex, 'hex'))), { signerKey: l.signerKey, verifierKey: l.verifierKey });
  t.is(signNote(body, [parseSignerKey(l.signerKey, ed)]), l.checkpoint.note);
  const checked = verifyCheckpoint(new TextEncoder().encode(l.checkpoint.note), parseVerifierKey(l.verifierKey, ed));
  if (!checked.ok) return t.fail(checked.reason);
  t.is(checked.value.note, l.checkpoint.note);
  t.is(checked.value.checkpoint.size, 7);
});

test('extension lines and the empty tree round trip', (t) => {
  const empty = { origin: 'example.org/log', size: 0, root: new Uint8Array(32), extensions: [] };
  t.is(formatCheckpoint(empty), 'example.org/log\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n');
  t.deepEqual(parseCheckpoint(formatCheckpoint(empty)), empty);
  const ext = { ...empty, size: 9007199254740991, extensions: ['Timestamp: 1700000000', '\u2014 not a signature'] };
  t.deepEqual(parseCheckpoint(formatCheckpoint(ext)), ext);
});

test('format/parse round trip on random checkpoints', (t) => {
  const line = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u001f]/.test(s));
  fc.assert(
    fc.property(line, fc.maxSafeNat(), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(line, { maxLength: 3 }), (origin, size, root, extensions) => {
      const cp: Checkpoint = { origin, size, root, extensions };
      const text = formatCheckpoint(cp);
      t.deepEqual(parseCheckpoint(text), cp);
      return formatCheckpoint(parseCheckpoint(text)) === text;
    }),
  );
});

const badBodies: [string, string, RegExp][] = [
  ['empty', '', /does not end with a newline/],
  ['no final newline', `o\n1\n${ROOT}`, /does not end with a newline/],
  ['two lines', 'o\n1\n', /has 2 line\(s\), needs at least 3/],
  ['empty origin', `\n1\n${ROOT}\n`, /line 1 \(origin\): is empty/],
  ['origin with a tab', `o\tx\n1\n${ROOT}\n`, /line 1 \(origin\): contains control character U\+0009/],
  ['CRLF', `o\r\n1\r\n${ROOT}\r\n`, /line 1 \(origin\): contains control character U\+000D/],
  ['empty size', `o\n\n${ROOT}\n`, /line 2 \(size\): is empty/],
  ['size with leading zero', `o\n07\n${ROOT}\n`, /line 2 \(size\): "07" is not a decimal number without leading zeros/],
  ['size 00', `o\n00\n${ROOT}\n`, /line 2 \(size\)/],
  ['negative size', `o\n-1\n${ROOT}\n`, /line 2 \(size\)/],
  ['size with plus', `o\n+1\n${ROOT}\n`, /line 2 \(size\)/],
  ['size in exponent form', `o\n1e3\n${ROOT}\n`, /line 2 \(size\)/],
  ['size with space', `o\n 7\n${ROOT}\n`, /line 2 \(size\)/],
  ['size in hex', `o\n0x10\n${ROOT}\n`, /line 2 \(size\)/],
  ['size above 2^53', `o\n9007199254740993\n${ROOT}\n`, /line 2 \(size\): 9007199254740993 is larger than this implementation supports/],
  ['root not base64', `o\n1\nnot base64!\n`, /line 3 \(root hash\): "not base64!" is not canonical standard base64/],
  ['root without padding', `o\n1\n${ROOT.slice(0, -1)}\n`, /line 3 \(root hash\): .* is not canonical/],
  ['root with non-canonical bits', `o\n1\n${ROOT.slice(0, -2)}J=\n`, /line 3 \(root hash\): .* is not canonical/],
  ['root in URL-safe base64', `o\n1\n${'_'.repeat(43)}=\n`, /line 3 \(root hash\)/],
  ['root of 31 bytes', `o\n1\n${b64(new Uint8Array(31))}\n`, /line 3 \(root hash\): decodes to 31 bytes, expected 32/],
  ['root of 33 bytes', `o\n1\n${b64(new Uint8Array(33))}\n`, /line 3 \(root hash\): decodes to 33 bytes/],
  ['empty root line', `o\n1\n\n`, /line 3 \(root hash\): is empty/],
  ['empty extension line', `o\n1\n${ROOT}\next\n\n`, /line 5 \(extension\): is empty/],
  ['control character in an extension', `o\n1\n${ROOT}\nx\u0007\n`, /line 4 \(extension\): contains control character U\+0007/],
];
for (const [name, body, reason] of badBodies) {
  test(`parseCheckpoint rejects: ${name}`, (t) => {
    const err = t.throws(() => parseCheckpoint(body), { instanceOf: LafsError });
    t.is(err?.code, 'bad-checkpoint');
    t.regex(err?.message ?? '', reason);
  });
}

test('formatCheckpoint refuses what it could not parse back', (t) => {
  const good: Checkpoint = { origin: 'o', size: 1, root: new Uint8Array(32), extensions: [] };
  const cases: [Checkpoint, RegExp][] = [
    [{ ...good, origin: '' }, /origin is empty/],
    [{ ...good, origin: 'a\nb' }, /origin contains control character U\+000A/],
    [{ ...good, size: -1 }, /size -1/],
    [{ ...good, size: 1.5 }, /size 1.5/],
    [{ ...good, size: 2 ** 53 }, /not a non-negative safe integer/],
    [{ ...good, root: new Uint8Array(31) }, /32 bytes, got 31/],
    [{ ...good, extensions: ['ok', ''] }, /extension line 2 is empty/],
    [{ ...good, extensions: ['a\nb'] }, /extension line 1 contains control/],
  ];
  const notText = t.throws(() => parseCheckpoint(42 as unknown as string), { instanceOf: LafsError });
  t.is(notText?.code, 'bad-checkpoint');
  for (const [cp, reason] of cases) {
    const err = t.throws(() => formatCheckpoint(cp), { instanceOf: LafsError });
    t.is(err?.code, 'bad-checkpoint');
    t.regex(err?.message ?? '', reason);
  }
});

test('verifyCheckpoint: wrong key, bad body, wrong origin and garbage all return reasons', (t) => {
  const log = generateKeyPair('example.org/log', ed, new Uint8Array(32).fill(3));
  const other = generateKeyPair('example.org/log', ed, new Uint8Array(32).fill(4));
  const signer = parseSignerKey(log.signerKey, ed);
  const verifier = parseVerifierKey(log.verifierKey, ed);
  const good = signNote(`example.org/log\n5\n${ROOT}\n`, [signer]);
  t.true(verifyCheckpoint(good, verifier).ok);

  const reasonOf = (r: ReturnType<typeof verifyCheckpoint>): string => (r.ok ? '(ok)' : r.reason);
  t.regex(reasonOf(verifyCheckpoint(good, parseVerifierKey(other.verifierKey, ed))), /^checkpoint signature: note has no signature by a known key/);
  t.regex(reasonOf(verifyCheckpoint(good.replace('\n5\n', '\n6\n'), verifier)), /^checkpoint signature: .*does not verify/);
  t.regex(reasonOf(verifyCheckpoint(signNote(`example.org/log\n05\n${ROOT}\n`, [signer]), verifier)), /checkpoint line 2 \(size\)/);
  t.regex(reasonOf(verifyCheckpoint(signNote(`example.org/log\n5\n`, [signer]), verifier)), /needs at least 3/);
  t.regex(reasonOf(verifyCheckpoint(signNote(`example.org/other\n5\n${ROOT}\n`, [signer]), verifier)), /origin "example\.org\/other" is not the expected "example\.org\/log"/);
  t.true(verifyCheckpoint(signNote(`example.org/other\n5\n${ROOT}\n`, [signer]), verifier, 'example.org/other').ok);
  t.regex(reasonOf(verifyCheckpoint(new Uint8Array([0xff, 0xfe]), verifier)), /not valid UTF-8/);
  fc.assert(fc.property(fc.string({ maxLength: 120 }), (s) => verifyCheckpoint(s, verifier).ok === false));
});
