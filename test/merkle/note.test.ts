/**
 * C2SP signed notes: byte-for-byte interop with Go's sumdb/note (its documented example and real
 * sum.golang.org tree heads), the spec's verification rules, and rejection of malformed notes.
 */
import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  formatKeyId,
  formatVerifierKey,
  generateKeyPair,
  isValidKeyName,
  keyId,
  LafsError,
  MAX_NOTE_BYTES,
  MAX_NOTE_SIGNATURES,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKeyFromSignerKey,
  type NoteVerifier,
} from '../../merkle/index.js';
import { nodeEd25519 as ed } from '../../attestation/node-crypto.js';
import { repoRoot } from '../helpers/tmp.js';

const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/vectors/notes.json'), 'utf8'));
const go = vectors.go;
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function reasonOf(result: ReturnType<typeof openNote>): string {
  return result.ok ? '(opened)' : result.reason;
}

// A fixed key pair for the behaviour tests (not an interop vector).
const alice = generateKeyPair('alice.example/log', ed, new Uint8Array(32).fill(1));
const bob = generateKeyPair('bob.example/witness', ed, new Uint8Array(32).fill(2));
const aliceSigner = parseSignerKey(alice.signerKey, ed);
const aliceVerifier = parseVerifierKey(alice.verifierKey, ed);
const bobSigner = parseSignerKey(bob.signerKey, ed);
const bobVerifier = parseVerifierKey(bob.verifierKey, ed);
const TEXT = 'alice.example/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
const signed = signNote(TEXT, [aliceSigner]);

test('Go interop: verifies the signed note from the sumdb/note documentation', (t) => {
  const v = parseVerifierKey(go.verifierKey, ed);
  t.is(v.name, go.name);
  t.is(formatKeyId(v.keyId), go.keyIdHex);
  for (const input of [go.signedNote, utf8(go.signedNote)]) {
    const opened = openNote(input, [v]);
    if (!opened.ok) return t.fail(opened.reason);
    t.is(opened.value.text, go.text);
    t.is(opened.value.verified.length, 1);
    t.is(opened.value.verified[0]!.name, go.name);
    t.is(formatKeyId(opened.value.verified[0]!.keyId), go.keyIdHex);
    t.is(opened.value.verified[0]!.signature.length, 64);
    t.deepEqual(opened.value.unverified, []);
  }
});

test('Go interop: signing with Go\'s example signer key yields the identical note bytes', (t) => {
  const signer = parseSignerKey(go.signerKey, ed);
  t.is(signer.name, go.name);
  t.is(formatKeyId(signer.keyId), go.keyIdHex);
  t.is(signNote(go.text, [signer]), go.signedNote);
  t.is(verifierKeyFromSignerKey(go.signerKey, ed), go.verifierKey);
  // generateKeyPair from the same seed reproduces both key strings exactly.
  const seed = new Uint8Array(Buffer.from(go.signerKey.split('+').slice(4).join('+'), 'base64')).subarray(1);
  t.deepEqual(generateKeyPair(go.name, ed, seed), { signerKey: go.signerKey, verifierKey: go.verifierKey });
  t.is(formatVerifierKey(go.name, ed.publicKey(seed)), go.verifierKey);
});

test('Go interop: a cosigned note keeps the unknown cosignature in unverified', (t) => {
  const opened = openNote(go.cosignedNoteExample, [parseVerifierKey(go.verifierKey, ed)]);
  if (!opened.ok) return t.fail(opened.reason);
  t.is(opened.value.verified.length, 1);
  t.is(opened.value.unverified.length, 1);
  t.is(opened.value.unverified[0]!.name, 'EnochRoot');
});

test('Go interop: real sum.golang.org tree heads verify under the Go toolchain key', (t) => {
  const v = parseVerifierKey(vectors.sumdb.verifierKey, ed); // base64 part contains '+'
  for (const c of vectors.sumdb.checkpoints) {
    const opened = openNote(c.note, [v]);
    if (!opened.ok) return t.fail(opened.reason);
    t.is(opened.value.verified.length, 1);
    t.is(opened.value.unverified.length, c.unverifiedSignatures);
    t.true(opened.value.text.startsWith(`${vectors.sumdb.origin}\n${c.size}\n${c.rootBase64}\n`));
  }
});

test('key ID is SHA-256(name || 0x0A || 0x01 || public key)[:4]', (t) => {
  const pub = ed.publicKey(new Uint8Array(32).fill(1));
  const expected = createHash('sha256').update(Buffer.concat([Buffer.from('alice.example/log\n'), Buffer.from([1]), pub])).digest().subarray(0, 4);
  t.deepEqual(Buffer.from(keyId('alice.example/log', pub)), expected);
  t.deepEqual(aliceVerifier.keyId, keyId('alice.example/log', pub));
});

test('round trip: sign with two keys, open with either, both or with extra unknown verifiers', (t) => {
  const note = signNote(TEXT, [aliceSigner, bobSigner]);
  for (const verifiers of [[aliceVerifier], [bobVerifier], [aliceVerifier, bobVerifier]]) {
    const opened = openNote(note, verifiers);
    if (!opened.ok) return t.fail(opened.reason);
    t.is(opened.value.text, TEXT);
    t.is(opened.value.verified.length, verifiers.length);
    t.is(opened.value.unverified.length, 2 - verifiers.length);
  }
  const fresh = generateKeyPair('fresh', ed); // random seed
  const freshNote = signNote('hello\n', [parseSignerKey(fresh.signerKey, ed)]);
  t.true(openNote(freshNote, [parseVerifierKey(fresh.verifierKey, ed)]).ok);
  t.not(generateKeyPair('fresh', ed).verifierKey, fresh.verifierKey);
});

test('note text may contain blank lines: the last blank line separates the signatures', (t) => {
  const text = 'first paragraph\n\nsecond paragraph\n\n\n';
  const opened = openNote(signNote(text, [aliceSigner]), [aliceVerifier]);
  if (!opened.ok) return t.fail(opened.reason);
  t.is(opened.value.text, text);
  // The C2SP spec's own example parses to the end (its key is unpublished, so it cannot verify).
  const spec = openNote(vectors.c2sp.noteWithBlankLineInText, [aliceVerifier]);
  t.regex(reasonOf(spec), /no signature by a known key/);
});

test('wrong key: same name, different key is an unknown key and the note is rejected', (t) => {
  const impostor = parseVerifierKey(generateKeyPair('alice.example/log', ed, new Uint8Array(32).fill(9)).verifierKey, ed);
  t.regex(reasonOf(openNote(signed, [impostor])), /no signature by a known key \(known: alice\.example\/log\+[0-9a-f]{8}\)/);
});

test('wrong name: same key under another name does not verify the note', (t) => {
  const renamed = parseVerifierKey(formatVerifierKey('mallory.example/log', aliceVerifier.publicKey), ed);
  t.regex(reasonOf(openNote(signed, [renamed])), /no signature by a known key/);
  t.regex(reasonOf(openNote(signed, [])), /known: none given/);
});

test('a known key (name and ID match) whose signature fails rejects the whole note', (t) => {
  // A colliding key ID with a different public key: the spec says such a signature must be verified.
  const collider: NoteVerifier = { ...aliceVerifier, publicKey: bobVerifier.publicKey, verify: (m, s) => ed.verify(s, m, bobVerifier.publicKey) };
  t.regex(reasonOf(openNote(signed, [collider])), /note line 5: signature by known key alice\.example\/log\+[0-9a-f]{8} does not verify/);
  // Even when another known key signed correctly.
  const both = signNote(TEXT, [bobSigner, aliceSigner]);
  t.regex(reasonOf(openNote(both, [bobVerifier, collider])), /does not verify/);
});

test('tampered body or signature fails', (t) => {
  t.regex(reasonOf(openNote(signed.replace('\n42\n', '\n43\n'), [aliceVerifier])), /does not verify/);
  const line = signed.split('\n')[4]!;
  const b64 = line.split(' ')[2]!;
  const flipped = b64.slice(0, 10) + (b64[10] === 'A' ? 'B' : 'A') + b64.slice(11);
  t.regex(reasonOf(openNote(signed.replace(b64, flipped), [aliceVerifier])), /does not verify/);
  // Truncated signature (still valid base64 and long enough to carry a key ID).
  const short = Buffer.from(Buffer.from(b64, 'base64').subarray(0, 40)).toString('base64');
  t.regex(reasonOf(openNote(signed.replace(b64, short), [aliceVerifier])), /does not verify/);
});

test('unknown signature lines are kept once each and ignored; repeated known signatures are skipped', (t) => {
  const withOthers = signNote(TEXT, [aliceSigner, bobSigner]);
  const lines = withOthers.split('\n');
  const bobLine = lines[5]!;
  const aliceLine = lines[4]!;
  const strangerLine = `\u2014 stranger.example AAAAAAAAAAAA`;
  const note = [...lines.slice(0, 4), bobLine, aliceLine, strangerLine, bobLine, aliceLine, ''].join('\n');
  const opened = openNote(note, [aliceVerifier]);
  if (!opened.ok) return t.fail(opened.reason);
  t.is(opened.value.verified.length, 1);
  t.deepEqual(opened.value.unverified.map((s) => s.name), ['bob.example/witness', 'stranger.example']);
  t.deepEqual(Buffer.from(opened.value.unverified[1]!.keyId), Buffer.alloc(4));
  t.is(opened.value.unverified[1]!.signature.length, 5);
});

test('accepts 16 signatures (the spec minimum) and rejects more than the limit', (t) => {
  const signers = Array.from({ length: 16 }, (_, i) => parseSignerKey(generateKeyPair(`w${i}`, ed, new Uint8Array(32).fill(i + 10)).signerKey, ed));
  const note16 = signNote(TEXT, [aliceSigner, ...signers.slice(1)]);
  const opened = openNote(note16, [aliceVerifier]);
  t.true(opened.ok && opened.value.unverified.length === 15);
  const many = signed + `\u2014 x AAAAAAAA\n`.repeat(MAX_NOTE_SIGNATURES);
  t.regex(reasonOf(openNote(many, [aliceVerifier])), new RegExp(`${MAX_NOTE_SIGNATURES + 1} signature lines, more than the limit`));
});

const sigLine = signed.split('\n')[4]!;
const malformed: [string, string | Uint8Array, RegExp][] = [
  ['empty input', '', /no blank line/],
  ['no blank line', TEXT + sigLine + '\n', /no blank line/],
  ['no signature lines', TEXT + '\n', /no signature lines/],
  ['no final newline', TEXT + '\n' + sigLine, /does not end with a newline/],
  ['hyphen instead of em dash', TEXT + '\n' + sigLine.replace('\u2014', '-') + '\n', /note line 5 is not a signature line/],
  ['en dash instead of em dash', TEXT + '\n' + sigLine.replace('\u2014', '\u2013') + '\n', /not a signature line/],
  ['em dash without space', TEXT + '\n' + sigLine.replace('\u2014 ', '\u2014') + '\n', /not a signature line/],
  ['signature line after a blank line inside the block', TEXT + '\n' + sigLine + '\nsome text\n', /note line 6 is not a signature line/],
  ['no signature after the name', TEXT + '\n\u2014 alice.example/log\n', /signature by alice\.example\/log is missing/],
  ['empty key name', TEXT + '\n\u2014  ' + sigLine.split(' ')[2] + '\n', /key name "" is empty/],
  ['key name with plus', TEXT + '\n' + sigLine.replace('alice.example/log', 'alice+log') + '\n', /key name "alice\+log"/],
  ['signature with junk characters', TEXT + '\n' + sigLine + '!\n', /not canonical standard base64/],
  ['signature with a second space', TEXT + '\n' + sigLine.replace(/=$/, '') + ' =\n', /not canonical standard base64/],
  ['signature without padding', TEXT + '\n' + sigLine.replace(/=+$/, '') + '\n', /not canonical standard base64/],
  ['signature with non-zero padding bits', TEXT + '\n\u2014 alice.example/log AAAAAAB=\n', /not canonical standard base64/],
  ['URL-safe base64 alphabet', TEXT + '\n\u2014 alice.example/log AAAA_-AA\n', /not canonical standard base64/],
  ['signature of 4 bytes (key ID only)', TEXT + '\n\u2014 alice.example/log AAAAAA==\n', /too short \(4 bytes\)/],
  ['tab in the text', TEXT.replace('42', '4\t2') + '\n' + sigLine + '\n', /note line 2 contains control character U\+0009/],
  ['CRLF line endings', signed.replaceAll('\n', '\r\n'), /control character U\+000D/],
  ['NUL byte', TEXT + '\n' + sigLine + '\n\u0000', /control character U\+0000/],
  ['invalid UTF-8 bytes', new Uint8Array([...utf8(TEXT), 0xff, 0x0a, ...utf8('\n' + sigLine + '\n')]), /not valid UTF-8/],
  ['lone surrogate', TEXT.replace('42', '4\ud8002') + '\n' + sigLine + '\n', /lone surrogate/],
  ['too large', 'x'.repeat(MAX_NOTE_BYTES) + '\n\n' + sigLine + '\n', /larger than/],
  ['too large in UTF-8 bytes', '\u00e9'.repeat(MAX_NOTE_BYTES / 2 + 1) + '\n\n' + sigLine + '\n', /larger than/],
];
for (const [name, input, reason] of malformed) {
  test(`openNote rejects a malformed note: ${name}`, (t) => {
    const result = openNote(input, [aliceVerifier]);
    t.false(result.ok);
    t.regex(reasonOf(result), reason);
  });
}

test('a byte-order mark is part of the signed text, not stripped', (t) => {
  const text = '\ufeffbom\n';
  const note = signNote(text, [aliceSigner]);
  const opened = openNote(utf8(note), [aliceVerifier]);
  t.true(opened.ok && opened.value.text === text);
  t.false(openNote(utf8(note).subarray(3), [aliceVerifier]).ok);
});

test('openNote never throws, on random input or a misbehaving verifier', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), (input) => {
      const r = openNote(input, [aliceVerifier]);
      return r.ok === false && typeof r.reason === 'string';
    }),
  );
  const throwing: NoteVerifier = { ...aliceVerifier, verify: () => { throw new Error('boom'); } };
  t.regex(reasonOf(openNote(signed, [throwing])), /could not be verified: boom/);
});

test('every single-character change to a signed note makes it fail to open', (t) => {
  fc.assert(
    fc.property(fc.nat(signed.length - 1), fc.constantFrom('A', 'a', '0', '+', '/', '=', '\n', ' ', '\u2014', 'x'), (at, ch) => {
      fc.pre(signed[at] !== ch);
      const mutated = signed.slice(0, at) + ch + signed.slice(at + 1);
      return !openNote(mutated, [aliceVerifier]).ok;
    }),
    { numRuns: 500 },
  );
  t.pass();
});

const badVerifierKeys: [string, string, RegExp][] = [
  ['empty', '', /must have the form/],
  ['name only', 'alice', /must have the form/],
  ['missing key', 'alice+01234567', /must have the form/],
  ['empty name', '+' + alice.verifierKey.split('+').slice(1).join('+'), /name "" is empty/],
  ['name with space', 'ali ce+' + alice.verifierKey.split('+').slice(1).join('+'), /name "ali ce"/],
  ['7 hex digits', alice.verifierKey.replace(/\+([0-9a-f]{8})\+/, (_, h: string) => `+${h.slice(1)}+`), /is not 8 hex digits/],
  ['non-hex key ID', alice.verifierKey.replace(/\+([0-9a-f]{8})\+/, '+0123456g+'), /is not 8 hex digits/],
  ['wrong key ID', alice.verifierKey.replace(/\+([0-9a-f]{8})\+/, '+00000000+'), /key ID 00000000 does not match the key \(expected [0-9a-f]{8}\)/],
  ['bad base64', alice.verifierKey + '!', /not canonical standard base64/],
  ['empty key data', 'alice+01234567+', /not canonical standard base64/],
  ['unsupported signature type', 'alice+01234567+' + Buffer.concat([Buffer.from([2]), Buffer.alloc(32)]).toString('base64'), /signature type 0x02 is not supported/],
  ['short public key', 'alice+01234567+' + Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64'), /public key must be 32 bytes, got 31/],
];
for (const [name, key, reason] of badVerifierKeys) {
  test(`parseVerifierKey rejects: ${name}`, (t) => {
    const err = t.throws(() => parseVerifierKey(key, ed), { instanceOf: LafsError });
    t.is(err?.code, 'bad-key');
    t.regex(err?.message ?? '', reason);
  });
}

test('parseVerifierKey accepts an uppercase key ID as Go does', (t) => {
  const [name, id, rest] = [alice.verifierKey.split('+')[0]!, alice.verifierKey.split('+')[1]!, alice.verifierKey.split('+').slice(2).join('+')];
  t.deepEqual(parseVerifierKey(`${name}+${id.toUpperCase()}+${rest}`, ed).keyId, aliceVerifier.keyId);
});

test('parseSignerKey rejects malformed keys without echoing the secret', (t) => {
  const secret = alice.signerKey.split('+').slice(4).join('+');
  const cases: [string, RegExp][] = [
    [alice.verifierKey, /must have the form PRIVATE\+KEY/],
    [alice.signerKey.replace('PRIVATE+KEY', 'PUBLIC+KEY'), /must have the form/],
    [alice.signerKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'), /key ID 00000000 does not match/],
    [alice.signerKey.replace(secret, Buffer.concat([Buffer.from([1]), Buffer.alloc(16)]).toString('base64')), /seed must be 32 bytes, got 16/],
    [alice.signerKey + '!', /not canonical standard base64/],
    [alice.signerKey.replace('alice.example/log', 'alice example'), /name "alice example"/],
  ];
  for (const [key, reason] of cases) {
    const err = t.throws(() => parseSignerKey(key, ed), { instanceOf: LafsError });
    t.is(err?.code, 'bad-key');
    t.regex(err?.message ?? '', reason);
    t.false((err?.message ?? '').includes(secret.slice(4, 20)), 'message must not contain the secret key');
  }
});

test('signNote rejects unusable text or signers', (t) => {
  const cases: [string, readonly typeof aliceSigner[], RegExp][] = [
    ['', [aliceSigner], /empty/],
    ['no newline', [aliceSigner], /does not end with a newline/],
    ['tab\there\n', [aliceSigner], /line 1 contains control character U\+0009/],
    ['ok\nbad\r\n', [aliceSigner], /line 2 contains control character U\+000D/],
    ['\ud800\n', [aliceSigner], /lone surrogate/],
    ['fine\n', [], /at least one signer/],
    ['fine\n', [{ ...aliceSigner, name: 'bad name' }], /signer name "bad name"/],
    ['fine\n', [{ ...aliceSigner, keyId: new Uint8Array(3) }], /3-byte key ID/],
  ];
  for (const [text, signers, reason] of cases) {
    const err = t.throws(() => signNote(text, signers), { instanceOf: LafsError });
    t.is(err?.code, 'bad-note');
    t.regex(err?.message ?? '', reason);
  }
});

test('key names follow Go: no Unicode spaces, no plus, non-empty', (t) => {
  for (const good of ['a', 'example.com/log', 'sum.golang.org', 'ключ', 'x\ufeffy']) t.true(isValidKeyName(good), good);
  for (const bad of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u0085b', 'a\u2003b', 'a\u3000b', '\ud800']) t.false(isValidKeyName(bad), JSON.stringify(bad));
  t.throws(() => generateKeyPair('a b', ed), { instanceOf: LafsError });
  t.throws(() => generateKeyPair('ok', ed, new Uint8Array(31)), { instanceOf: LafsError, message: /seed must be 32 bytes/ });
});
