/** C2SP tlog-proof@v1: the spec example, the LAFS vector verified offline, round trips and malformed input. */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  formatTlogProof,
  LafsError,
  leafHash,
  MAX_TLOG_PROOF_CHARS,
  parseTlogProof,
  parseVerifierKey,
  verifyTlogProof,
  type TlogProof,
} from '../../merkle/index.js';
import { nodeEd25519 as ed, nodeSha256 } from '../../attestation/node-crypto.js';
import { repoRoot } from '../helpers/tmp.js';

const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/vectors/notes.json'), 'utf8'));
const lafs = vectors.lafs;
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const verifier = parseVerifierKey(lafs.verifierKey, ed);
const leaf = unhex(lafs.tlogProof.leafHex);

test('parses the C2SP spec example', (t) => {
  const ex = vectors.c2sp.tlogProofExample;
  const p = parseTlogProof(ex.text);
  t.is(p.index, ex.index);
  t.is(p.proof.length, ex.hashes);
  t.true(p.checkpoint.startsWith(ex.checkpointFirstLine + '\n'));
  t.true(ex.text.endsWith(p.checkpoint));
  t.is(p.extra?.length, 39);
  t.is(formatTlogProof(p), ex.text);
});

test('LAFS vector: formats to the recorded text and verifies offline', (t) => {
  const tp = lafs.tlogProof;
  const proof: TlogProof = { index: tp.index, proof: tp.proofHex.map(unhex), checkpoint: lafs.checkpoint.note };
  t.is(formatTlogProof(proof), tp.text);
  t.deepEqual(parseTlogProof(tp.text), proof);
  const withExtra = { ...proof, extra: new TextEncoder().encode(tp.extraUtf8) };
  t.is(formatTlogProof(withExtra), tp.textWithExtra);
  t.deepEqual(parseTlogProof(tp.textWithExtra), withExtra);

  for (const text of [tp.text, tp.textWithExtra]) {
    const checked = verifyTlogProof(text, leafHash(leaf), verifier);
    if (!checked.ok) return t.fail(checked.reason);
    t.is(checked.value.checkpoint.size, 7);
    t.is(checked.value.proof.index, 5);
  }
  t.true(verifyTlogProof(tp.text, leafHash(leaf, nodeSha256), verifier, undefined, nodeSha256).ok);
});

test('verifyTlogProof fails for another leaf, index, hash, key or origin', (t) => {
  const tp = lafs.tlogProof;
  const reason = (r: ReturnType<typeof verifyTlogProof>): string => (r.ok ? '(ok)' : r.reason);
  t.regex(reason(verifyTlogProof(tp.text, leafHash(unhex('3031')), verifier)), /inclusion proof for index 5 in tree size 7/);
  t.regex(reason(verifyTlogProof(tp.text.replace('index 5', 'index 4'), leafHash(leaf), verifier)), /inclusion proof for index 4/);
  t.regex(reason(verifyTlogProof(tp.text.replace('index 5', 'index 7'), leafHash(leaf), verifier)), /inclusion proof for index 7/);
  const firstHash = b64(unhex(tp.proofHex[0]));
  const otherHash = b64(new Uint8Array(32));
  t.regex(reason(verifyTlogProof(tp.text.replace(firstHash, otherHash), leafHash(leaf), verifier)), /inclusion proof/);
  t.regex(reason(verifyTlogProof(tp.text.replace(`${firstHash}\n`, ''), leafHash(leaf), verifier)), /inclusion proof/);
  const stranger = parseVerifierKey(vectors.go.verifierKey, ed);
  t.regex(reason(verifyTlogProof(tp.text, leafHash(leaf), stranger)), /^tlog-proof checkpoint signature: note has no signature by a known key/);
  t.regex(reason(verifyTlogProof(tp.text, leafHash(leaf), verifier, 'example.org/other')), /origin "example\.org\/lafs-log" is not the expected/);
  t.regex(reason(verifyTlogProof(tp.text.replace('\n7\n', '\n8\n'), leafHash(leaf), verifier)), /does not verify/);
  t.regex(reason(verifyTlogProof('junk', leafHash(leaf), verifier)), /tlog-proof line 1/);
});

test('a proof with no hashes (tree of one leaf) round trips', (t) => {
  const p: TlogProof = { index: 0, proof: [], checkpoint: 'o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 o AAAAAAAA\n' };
  const text = formatTlogProof(p);
  t.is(text, `c2sp.org/tlog-proof@v1\nindex 0\n\n${p.checkpoint}`);
  t.deepEqual(parseTlogProof(text), p);
  // Empty extra has no spelling in the format: it is written as no extra line.
  t.is(formatTlogProof({ ...p, extra: new Uint8Array() }), text);
});

test('format/parse round trip on random proofs', (t) => {
  fc.assert(
    fc.property(
      fc.maxSafeNat(),
      fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 64 }),
      fc.option(fc.uint8Array({ minLength: 1, maxLength: 50 }), { nil: undefined }),
      (index, proof, extra) => {
        const p: TlogProof = extra === undefined ? { index, proof, checkpoint: lafs.checkpoint.note } : { index, proof, checkpoint: lafs.checkpoint.note, extra };
        const text = formatTlogProof(p);
        t.deepEqual(parseTlogProof(text), p);
        return formatTlogProof(parseTlogProof(text)) === text;
      },
    ),
    { numRuns: 200 },
  );
});

const H = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const CP = 'o\n1\n' + H + '\n\n\u2014 o AAAAAAAA\n';
const HEAD = 'c2sp.org/tlog-proof@v1\n';
const malformed: [string, string, RegExp][] = [
  ['empty', '', /line 1: missing the header/],
  ['wrong header', 'c2sp.org/tlog-proof@v2\nindex 0\n\n' + CP, /line 1: expected "c2sp\.org\/tlog-proof@v1"/],
  ['header with CR', 'c2sp.org/tlog-proof@v1\r\nindex 0\n\n' + CP, /line 1: expected/],
  ['header only', HEAD, /line 2: missing the index line/],
  ['no index', HEAD + '\n' + CP, /line 2: expected "index <n>"/],
  ['index after hashes', HEAD + H + '\nindex 0\n\n' + CP, /line 2: expected "index <n>"/],
  ['extra after index', HEAD + 'index 0\nextra AAAA\n\n' + CP, /line 3: proof hash is not canonical/],
  ['empty extra', HEAD + 'extra \nindex 0\n\n' + CP, /line 2: extra line has no data/],
  ['extra not base64', HEAD + 'extra !!!!\nindex 0\n\n' + CP, /line 2: extra data is not canonical standard base64/],
  ['extra without index', HEAD + 'extra AAAA\n', /line 3: missing the index line/],
  ['two extra lines', HEAD + 'extra AAAA\nextra AAAA\nindex 0\n\n' + CP, /line 3: expected "index <n>"/],
  ['index with leading zero', HEAD + 'index 01\n\n' + CP, /line 2: index "01" is not a decimal number without leading zeros/],
  ['negative index', HEAD + 'index -1\n\n' + CP, /line 2: index "-1"/],
  ['empty index', HEAD + 'index \n\n' + CP, /line 2: index ""/],
  ['index with two spaces', HEAD + 'index  1\n\n' + CP, /line 2: index " 1"/],
  ['index above 2^53', HEAD + 'index 9007199254740993\n\n' + CP, /line 2: index 9007199254740993 is larger/],
  ['hash not base64', HEAD + 'index 0\nnot-a-hash\n\n' + CP, /line 3: proof hash is not canonical standard base64/],
  ['hash of 31 bytes', HEAD + `index 0\n${H}\n${b64(new Uint8Array(31))}\n\n` + CP, /line 4: proof hash decodes to 31 bytes, expected 32/],
  ['hash with trailing space', HEAD + `index 0\n${H} \n\n` + CP, /line 3: proof hash is not canonical/],
  ['65 hashes', HEAD + 'index 0\n' + `${H}\n`.repeat(65) + '\n' + CP, /line 67: more than 64 proof hashes/],
  ['no blank line', HEAD + `index 0\n${H}\n`, /line 4: missing the blank line before the checkpoint/],
  ['checkpoint right after hashes', HEAD + `index 0\n${H}\n` + CP, /line 4: proof hash is not canonical/],
  ['no checkpoint', HEAD + 'index 0\n\n', /line 4: missing the signed checkpoint/],
  ['checkpoint without final newline', HEAD + 'index 0\n\n' + CP.slice(0, -1), /checkpoint does not end with a newline/],
  ['too long', HEAD + 'extra ' + 'A'.repeat(MAX_TLOG_PROOF_CHARS) + '\nindex 0\n\n' + CP, /longer than/],
];
for (const [name, text, reason] of malformed) {
  test(`parseTlogProof rejects: ${name}`, (t) => {
    const err = t.throws(() => parseTlogProof(text), { instanceOf: LafsError });
    t.is(err?.code, 'bad-proof');
    t.regex(err?.message ?? '', reason);
  });
}

test('formatTlogProof refuses what it could not parse back', (t) => {
  const good: TlogProof = { index: 0, proof: [], checkpoint: CP };
  const cases: [TlogProof, RegExp][] = [
    [{ ...good, index: -1 }, /index -1/],
    [{ ...good, index: 0.5 }, /index 0.5/],
    [{ ...good, proof: [new Uint8Array(31)] }, /hash 1 is 31 bytes/],
    [{ ...good, proof: Array.from({ length: 65 }, () => new Uint8Array(32)) }, /65 hashes/],
    [{ ...good, checkpoint: '' }, /ending in a newline/],
    [{ ...good, checkpoint: 'o\n1' }, /ending in a newline/],
  ];
  for (const [p, reason] of cases) {
    const err = t.throws(() => formatTlogProof(p), { instanceOf: LafsError });
    t.is(err?.code, 'bad-proof');
    t.regex(err?.message ?? '', reason);
  }
});

test('parseTlogProof throws only LafsError on random input', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      try {
        parseTlogProof(HEAD + s);
        return true;
      } catch (err) {
        return err instanceof LafsError && err.code === 'bad-proof';
      }
    }),
  );
  t.pass();
});
