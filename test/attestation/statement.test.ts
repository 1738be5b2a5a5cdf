/** lafs-attestation/v1 statements: the exact grammar of DESIGN.md section 3, round trips, and errors naming line and rule. */
import test from 'ava';
import fc from 'fast-check';
import { LafsError } from '../../merkle/errors.js';
import { parseStatement, serializeStatement, type Statement } from '../../attestation/statement.js';
import { artifactNameProblem, compareUtf8 } from '../../attestation/grammar.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const H1 = '1'.repeat(64);
const H2 = 'ab'.repeat(32);
const SRC = `sha256:${'c'.repeat(64)}`;

const valid = `lafs-attestation/v1
source ${SRC}
platform x86_64-linux-gnu
artifact sha256:${H1} foo-1.0-x86_64.tar.gz
artifact sha256:${H2} foo-1.0-x86_64.whl
`;

test('parses a valid statement and serializes it back byte for byte', (t) => {
  const s = parseStatement(enc(valid));
  t.deepEqual(s, {
    source: SRC,
    platform: 'x86_64-linux-gnu',
    artifacts: [
      { name: 'foo-1.0-x86_64.tar.gz', sha256: H1 },
      { name: 'foo-1.0-x86_64.whl', sha256: H2 },
    ],
  });
  t.is(dec(serializeStatement(s)), valid);
});

test('accepts git sources of 40 and 64 hex, names with inner spaces and non-ASCII', (t) => {
  for (const source of [`git:${'a'.repeat(40)}`, `git:${'0'.repeat(64)}`]) {
    const text = `lafs-attestation/v1\nsource ${source}\nplatform py3-none-any\nartifact sha256:${H1} my file é.whl\n`;
    t.is(parseStatement(enc(text)).source, source);
    t.is(dec(serializeStatement(parseStatement(enc(text)))), text);
  }
});

test('orders names by UTF-8 bytes, not by UTF-16 code units', (t) => {
  // U+FF01 (EF BC 81) sorts before U+1F600 (F0 9F 98 80) in UTF-8, although JavaScript's `<` says otherwise.
  const a = '\uff01.bin';
  const b = '\u{1f600}.bin';
  t.true(b < a);
  t.true(compareUtf8(a, b) < 0);
  const text = `lafs-attestation/v1\nsource ${SRC}\nplatform p\nartifact sha256:${H1} ${a}\nartifact sha256:${H2} ${b}\n`;
  t.is(parseStatement(enc(text)).artifacts.length, 2);
  const reversed = `lafs-attestation/v1\nsource ${SRC}\nplatform p\nartifact sha256:${H2} ${b}\nartifact sha256:${H1} ${a}\n`;
  t.throws(() => parseStatement(enc(reversed)), { message: /^line 5: artifact names must be sorted/ });
  t.is(dec(serializeStatement({ source: SRC, platform: 'p', artifacts: [{ name: b, sha256: H2 }, { name: a, sha256: H1 }] })), text);
});

const lines = valid.split('\n').slice(0, -1);
const withLine = (index: number, line: string) => lines.map((l, i) => (i === index ? line : l)).join('\n') + '\n';

const rejected: [string, string | Uint8Array, RegExp][] = [
  ['empty', '', /^statement is empty$/],
  ['wrong kind', valid.replace('lafs-attestation/v1', 'lafs-attestation/v2'), /^line 1: must be exactly "lafs-attestation\/v1"/],
  ['BOM before kind', '\ufeff' + valid, /^line 1: must be exactly/],
  ['CRLF', valid.replace(/\n/g, '\r\n'), /^line 1: carriage return \(CR\) not allowed/],
  ['CR inside a name', withLine(3, `artifact sha256:${H1} a\rb`), /^line 4: carriage return/],
  ['trailing space', withLine(2, 'platform x86_64-linux-gnu '), /^line 3: trailing whitespace$/],
  ['trailing tab', withLine(3, `artifact sha256:${H1} foo-1.0-x86_64.tar.gz\t`), /^line 4: trailing whitespace$/],
  ['no final newline', valid.slice(0, -1), /^line 5: missing final newline$/],
  ['blank line at end', valid + '\n', /^line 6: empty line$/],
  ['blank line inside', lines.slice(0, 3).join('\n') + '\n\n' + lines.slice(3).join('\n') + '\n', /^line 4: empty line$/],
  ['invalid UTF-8', new Uint8Array([...enc(lines.slice(0, 3).join('\n') + `\nartifact sha256:${H1} `), 0xc3, 0x28, 0x0a]), /^line 4: not valid UTF-8$/],
  ['overlong UTF-8', new Uint8Array([...enc(lines.slice(0, 3).join('\n') + `\nartifact sha256:${H1} `), 0xc0, 0xaf, 0x0a]), /^line 4: not valid UTF-8$/],
  ['missing source', 'lafs-attestation/v1\n', /^line 2: missing "source <digest>" line$/],
  ['source keyword', withLine(1, `src ${SRC}`), /^line 2: must be "source <digest>"/],
  ['uppercase source hex', withLine(1, `source sha256:${'C'.repeat(64)}`), /^line 2: source must be sha256:<64 lowercase hex>/],
  ['short source', withLine(1, `source sha256:${'c'.repeat(63)}`), /^line 2: source must be/],
  ['git source of 50', withLine(1, `source git:${'a'.repeat(50)}`), /^line 2: source must be/],
  ['unknown digest', withLine(1, `source md5:${'a'.repeat(32)}`), /^line 2: source must be/],
  ['double space after source', withLine(1, `source  ${SRC}`), /^line 2: source must be/],
  ['missing platform', `lafs-attestation/v1\nsource ${SRC}\n`, /^line 3: missing "platform <platform>" line$/],
  ['platform bad char', withLine(2, 'platform x86/64'), /^line 3: platform must be 1-64 characters from A-Za-z0-9._\+-/],
  ['platform too long', withLine(2, `platform ${'p'.repeat(65)}`), /^line 3: platform must be/],
  ['platform empty', withLine(2, 'platform'), /^line 3: must be "platform <platform>"/],
  ['no artifacts', lines.slice(0, 3).join('\n') + '\n', /^line 4: at least one "artifact/],
  ['uppercase artifact hex', withLine(3, `artifact sha256:${'A'.repeat(64)} foo-1.0-x86_64.tar.gz`), /^line 4: must be "artifact sha256:<64 lowercase hex> <name>"/],
  ['garbage line', withLine(4, 'signature abc'), /^line 5: must be "artifact sha256:/],
  ['name with slash', withLine(3, `artifact sha256:${H1} dist/foo.tar.gz`), /^line 4: artifact name must be a base name without '\/'/],
  ['name with NUL', withLine(3, `artifact sha256:${H1} a\u0000b`), /^line 4: artifact name contains a control character/],
  ['name with TAB', withLine(3, `artifact sha256:${H1} a\tb`), /^line 4: artifact name contains a control character/],
  ['name with C1 control', withLine(3, `artifact sha256:${H1} a\u0085b`), /^line 4: artifact name contains a control character/],
  ['name dot', withLine(3, `artifact sha256:${H1} .`), /^line 4: artifact name must not be "\."/],
  ['name dot dot', withLine(3, `artifact sha256:${H1} ..`), /^line 4: artifact name must not be "\.\."/],
  ['name leading space', withLine(3, `artifact sha256:${H1}  foo`), /^line 4: artifact name must not start or end with a space/],
  ['name empty', withLine(3, `artifact sha256:${H1}`), /^line 4: must be "artifact sha256:/],
  ['name of 256 bytes', withLine(3, `artifact sha256:${H1} ${'é'.repeat(128)}`), /^line 4: artifact name is over 255 bytes/],
  ['names unsorted', withLine(3, `artifact sha256:${H1} zzz`), /^line 5: artifact names must be sorted by UTF-8 bytes: "foo-1.0-x86_64.whl" after "zzz"$/],
  ['names repeated', withLine(4, `artifact sha256:${H2} foo-1.0-x86_64.tar.gz`), /^line 5: artifact names must be unique: "foo-1.0-x86_64.tar.gz" repeats line 4$/],
  ['over the size cap', lines.slice(0, 3).join('\n') + '\n' + Array.from({ length: 800 }, (_, i) => `artifact sha256:${H1} n${String(i).padStart(4, '0')}\n`).join(''), /^statement is \d+ bytes, over the limit of 65535$/],
];

for (const [title, input, message] of rejected) {
  test(`rejects: ${title}`, (t) => {
    const bytes = typeof input === 'string' ? enc(input) : input;
    const error = t.throws(() => parseStatement(bytes), { instanceOf: LafsError, message });
    t.is(error?.code, 'bad-statement');
  });
}

test('a name of exactly 255 bytes is accepted', (t) => {
  const name = 'é'.repeat(127) + 'x';
  t.is(new TextEncoder().encode(name).length, 255);
  const text = `lafs-attestation/v1\nsource ${SRC}\nplatform p\nartifact sha256:${H1} ${name}\n`;
  t.is(parseStatement(enc(text)).artifacts[0]?.name, name);
});

test('serializeStatement rejects invalid fields, naming them', (t) => {
  const good: Statement = { source: SRC, platform: 'p', artifacts: [{ name: 'a', sha256: H1 }] };
  const cases: [Statement, RegExp][] = [
    [{ ...good, source: 'sha256:xyz' }, /^source: /],
    [{ ...good, platform: 'a b' }, /^platform: /],
    [{ ...good, platform: 'linux\nartifact x' }, /^platform: /],
    [{ ...good, artifacts: [] }, /^artifacts: at least one/],
    [{ ...good, artifacts: [{ name: 'a\nartifact sha256:x b', sha256: H1 }] }, /^artifacts\[0\]\.name: .*control character/],
    [{ ...good, artifacts: [{ name: 'a', sha256: H2.toUpperCase() }] }, /^artifacts\[0\]\.sha256: /],
    [{ ...good, artifacts: [{ name: 'x\ud800', sha256: H1 }] }, /^artifacts\[0\]\.name: .*not well-formed Unicode/],
    [{ ...good, artifacts: [{ name: 'a', sha256: H1 }, { name: 'a', sha256: H2 }] }, /^artifacts: name "a" appears twice$/],
  ];
  for (const [s, message] of cases) t.throws(() => serializeStatement(s), { instanceOf: LafsError, message });
});

// Valid statements generated from their parts: any base name the grammar allows, any order given.
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const source = fc.oneof(
  hex64.map((h) => `sha256:${h}`),
  fc.stringMatching(/^[0-9a-f]{40}$/).map((h) => `git:${h}`),
  hex64.map((h) => `git:${h}`),
);
const platform = fc.stringMatching(/^[A-Za-z0-9._+-]{1,64}$/);
const name = fc
  .oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.stringMatching(/^[a-z0-9][a-z0-9. _-]{0,30}[a-z0-9]$/))
  .filter((n) => artifactNameProblem(n) === null);
const statement = fc.record({
  source,
  platform,
  artifacts: fc.uniqueArray(fc.record({ name, sha256: hex64 }), { minLength: 1, maxLength: 12, selector: (a) => a.name }),
});

test('property: parse(serialize(s)) is s sorted, and serialize(parse(x)) is x', (t) => {
  fc.assert(
    fc.property(statement, (s) => {
      const bytes = serializeStatement(s);
      const parsed = parseStatement(bytes);
      const sorted = [...s.artifacts].sort((a, b) => compareUtf8(a.name, b.name));
      t.deepEqual(parsed, { ...s, artifacts: sorted });
      t.deepEqual(serializeStatement(parsed), bytes);
    }),
    { numRuns: 300 },
  );
});

test('property: any mutation of a valid statement either round-trips or fails with bad-statement', (t) => {
  fc.assert(
    fc.property(statement, fc.nat(), fc.integer({ min: 0, max: 255 }), (s, position, byte) => {
      const bytes = serializeStatement(s).slice();
      bytes[position % bytes.length] = byte;
      try {
        const parsed = parseStatement(bytes);
        t.deepEqual(serializeStatement(parsed), bytes);
      } catch (e) {
        t.true(e instanceof LafsError && e.code === 'bad-statement', String(e));
        t.regex((e as Error).message, /^(line \d+: |statement )/);
      }
    }),
    { numRuns: 500 },
  );
});
