/**
 * The lafs-verify policy, exhaustively over small worlds and by property, with no server:
 * every combination of what four builders say about one subject, which of them are trusted,
 * and the threshold, checked against an independent statement of the rule.
 */
import test from 'ava';
import fc from 'fast-check';
import { attestationsOf, decide, type Attestation } from '../../cli/verdict.js';

const H = 'a'.repeat(64); // the file's hash
const G = 'b'.repeat(64); // a different hash
const SRC = 'sha256:' + 'c'.repeat(64);
const builders = ['b1', 'b2', 'b3', 'b4'].map((b) => b.padEnd(40, '0'));

type Says = 'nothing' | 'target' | 'other' | 'both';
const says: Says[] = ['nothing', 'target', 'other', 'both'];

function att(index: number, builder: string, sha256: string, over: Partial<Attestation> = {}): Attestation {
  return { index, builder, source: SRC, platform: 'x86_64-linux-gnu', name: 'app.tar.gz', sha256, ...over };
}

function world(states: readonly Says[]): Attestation[] {
  const out: Attestation[] = [];
  states.forEach((s, i) => {
    if (s === 'target' || s === 'both') out.push(att(out.length, builders[i]!, H));
    if (s === 'other' || s === 'both') out.push(att(out.length, builders[i]!, G));
  });
  return out;
}

/** The rule as the issue states it, written independently of cli/verdict.ts, for one subject. */
function oracle(states: readonly Says[], trustedMask: number, k: number): 0 | 3 | 4 {
  // Anyone attesting the target brings the subject into question.
  if (!states.some((s) => s === 'target' || s === 'both')) return 3;
  let agree = 0;
  let disagree = 0;
  states.forEach((s, i) => {
    if (!(trustedMask & (1 << i))) return;
    if (s === 'other' || s === 'both') disagree++;
    else if (s === 'target') agree++;
  });
  // Both conditions failing (not enough, and a trusted builder attests another hash): 4 wins.
  if (disagree > 0) return 4;
  return agree >= k ? 0 : 3;
}

test('exhaustive: 4 builders x 4 statements x 16 trust sets x thresholds 1-4 match the rule', (t) => {
  let cases = 0;
  const counts = { 0: 0, 3: 0, 4: 0 };
  for (let code = 0; code < 4 ** 4; code++) {
    const states = [0, 1, 2, 3].map((i) => says[Math.floor(code / 4 ** i) % 4]!);
    const attestations = world(states);
    for (let mask = 0; mask < 16; mask++) {
      const trusted = new Set(builders.filter((_, i) => mask & (1 << i)));
      for (let k = 1; k <= 4; k++) {
        const v = decide(attestations, { trusted, threshold: k }, { sha256: H });
        const expected = oracle(states, mask, k);
        if (v.exitCode !== expected) t.fail(`states ${states.join(',')} trusted ${mask.toString(2)} k ${k}: got ${v.exitCode}, want ${expected}`);
        counts[v.exitCode]++;
        cases++;
      }
    }
  }
  t.is(cases, 256 * 16 * 4);
  // Every outcome occurs, so the loop really exercised all three branches.
  t.true(counts[0] > 0 && counts[3] > 0 && counts[4] > 0);
});

test('verified names the agreeing trusted builders and reports untrusted ones apart', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, H), att(2, builders[2]!, H), att(3, builders[3]!, G)];
  const v = decide(a, { trusted: new Set(builders.slice(0, 3)), threshold: 3 }, { sha256: H });
  t.is(v.status, 'verified');
  t.is(v.exitCode, 0);
  t.deepEqual(v.decisive?.trustedAgree, builders.slice(0, 3));
  t.deepEqual(v.decisive?.untrustedDisagree.map((d) => d.builder), [builders[3]]);
  t.true(v.warnings.some((w) => w.includes('untrusted builder') && w.includes(builders[3]!)), 'untrusted disagreement is a warning');
});

test('disagreement (4) beats not enough (3)', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, G)];
  const v = decide(a, { trusted: new Set(builders), threshold: 3 }, { sha256: H });
  t.is(v.status, 'disagreement');
  t.is(v.exitCode, 4);
  t.deepEqual(v.decisive?.trustedDisagree, [{ builder: builders[1]!, hashes: [G], selfContradiction: false, indices: [1] }]);
});

test('a trusted builder contradicting itself is disagreement, reported as such', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, H), att(2, builders[1]!, G)];
  const v = decide(a, { trusted: new Set(builders), threshold: 1 }, { sha256: H });
  t.is(v.exitCode, 4);
  t.true(v.decisive!.trustedDisagree[0]!.selfContradiction);
  t.deepEqual(v.decisive!.trustedDisagree[0]!.indices, [1, 2]);
});

test('the same builder attesting twice counts once', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[0]!, H), att(2, builders[0]!, H, { platform: 'x86_64-linux-gnu' })];
  const v = decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H });
  t.is(v.exitCode, 3);
  t.deepEqual(v.decisive?.trustedAgree, [builders[0]]);
  t.regex(v.reason, /only 1 trusted builder attests/);
});

test('agreement must be for the same (source, platform, name): split subjects do not add up', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, H, { name: 'renamed.tar.gz' }), att(2, builders[2]!, H, { platform: 'win64' })];
  const v = decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H });
  t.is(v.exitCode, 3);
  t.is(v.subjects.length, 3);
  t.true(v.warnings.some((w) => w.includes('3 different')));
});

test('disagreement is per subject: another hash under a different name or platform is not disagreement', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, H), att(2, builders[2]!, G, { name: 'other.tar.gz' }), att(3, builders[3]!, G, { platform: 'win64' })];
  const v = decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H });
  t.is(v.exitCode, 0);
});

test('a trusted disagreement under any subject of the hash fails, even when another subject passes', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, H), att(2, builders[2]!, H, { platform: 'win64' }), att(3, builders[3]!, G, { platform: 'win64' })];
  const v = decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H });
  t.is(v.exitCode, 4);
  t.is(v.decisive?.platform, 'win64');
  // Narrowing to the clean platform passes.
  t.is(decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H, platform: 'x86_64-linux-gnu' }).exitCode, 0);
});

test('filters: source, platform and name narrow the subjects; nothing left is "not enough"', (t) => {
  const a = [att(0, builders[0]!, H), att(1, builders[1]!, H)];
  const trusted = new Set(builders);
  t.is(decide(a, { trusted, threshold: 2 }, { sha256: H, source: SRC }).exitCode, 0);
  t.is(decide(a, { trusted, threshold: 2 }, { sha256: H, name: 'app.tar.gz' }).exitCode, 0);
  const v = decide(a, { trusted, threshold: 1 }, { sha256: H, source: 'git:' + '0'.repeat(40) });
  t.is(v.exitCode, 3);
  t.is(v.decisive, null);
  t.regex(v.reason, /no trusted builder attests this hash with source git:/);
});

test('unlabelled platform (null) is its own subject and never matches a --platform filter', (t) => {
  const a = [att(0, builders[0]!, H, { platform: null }), att(1, builders[1]!, H, { platform: null })];
  t.is(decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H }).exitCode, 0);
  t.is(decide(a, { trusted: new Set(builders), threshold: 1 }, { sha256: H, platform: 'null' }).exitCode, 3);
});

test('nothing attests the hash: not enough, even when trusted builders attest other hashes for other things', (t) => {
  const v = decide([att(0, builders[0]!, G)], { trusted: new Set(builders), threshold: 1 }, { sha256: H });
  t.is(v.status, 'not-enough');
  t.regex(v.reason, /no trusted builder attests this hash/);
});

test('a stranger claiming the hash where trusted builders attest another: disagreement (4), both conditions fail', (t) => {
  // Before: exit 3 with a warning. The rule: no trusted builder attests H for the subject (not enough) and
  // trusted builders attest a different hash for it (disagreement): 4 wins.
  const a = [att(0, 'f'.repeat(40), H), att(1, builders[0]!, G), att(2, builders[1]!, G)];
  const v = decide(a, { trusted: new Set(builders), threshold: 1 }, { sha256: H });
  t.is(v.exitCode, 4);
  t.is(v.status, 'disagreement');
  t.deepEqual(v.decisive?.trustedAgree, []);
  t.deepEqual(v.decisive?.trustedDisagree.map((d) => d.builder), [builders[0], builders[1]]);
  t.deepEqual(v.decisive?.untrustedAgree, ['f'.repeat(40)]);
  t.regex(v.reason, /^no trusted builder attests this hash, and 2 trusted builders attest a different hash/);
  t.true(v.warnings.some((w) => w.includes('only untrusted builders') && w.includes(builders[0]!) && w.includes(`sha256:${G}`)), v.warnings.join('\n'));
});

test('anti-blocking: a stranger claiming a verified hash under another subject that trusted builders built differently cannot fail it', (t) => {
  const stranger = 'f'.repeat(40);
  const a = [
    att(0, builders[0]!, H), att(1, builders[1]!, H), // the real subject: two trusted builders agree
    att(2, stranger, H, { name: 'other.tar.gz' }), att(3, builders[2]!, G, { name: 'other.tar.gz' }), // the stranger's claim
  ];
  const v = decide(a, { trusted: new Set(builders), threshold: 2 }, { sha256: H });
  t.is(v.exitCode, 0);
  t.is(v.decisive?.name, 'app.tar.gz');
  t.true(v.warnings.some((w) => w.includes('only untrusted builders') && w.includes('other.tar.gz')), v.warnings.join('\n'));
  // When the real subject does not reach the threshold, the stranger-only subject's trusted dissent decides: 4.
  const v3 = decide(a, { trusted: new Set(builders), threshold: 3 }, { sha256: H });
  t.is(v3.exitCode, 4);
  t.is(v3.decisive?.name, 'other.tar.gz');
  // Narrowing to the real subject leaves it out again.
  t.is(decide(a, { trusted: new Set(builders), threshold: 3 }, { sha256: H, name: 'app.tar.gz' }).exitCode, 3);
});

test('exhaustive: 3 builders x 2 subjects x 8 trust sets x thresholds 1-3 match the rule with the anti-blocking order', (t) => {
  const names = ['app.tar.gz', 'other.tar.gz'];
  /** Per subject: attested by anyone, vouched (a trusted builder attests H), trusted agree and dissent counts. */
  const oracle2 = (states: Says[][], mask: number, k: number): 0 | 3 | 4 => {
    const subj = names.map((_, n) => {
      let anyone = false; let vouched = false; let agree = 0; let dissent = 0;
      states.forEach((perSubject, i) => {
        const s = perSubject[n]!;
        const trusted = (mask & (1 << i)) !== 0;
        if (s === 'target' || s === 'both') { anyone = true; if (trusted) vouched = true; }
        if (!trusted) return;
        if (s === 'target') agree++;
        if (s === 'other' || s === 'both') dissent++;
      });
      return { anyone, vouched, agree, dissent };
    });
    if (subj.some((s) => s.vouched && s.dissent > 0)) return 4;
    if (subj.some((s) => s.vouched && s.agree >= k)) return 0;
    if (subj.some((s) => s.anyone && s.dissent > 0)) return 4;
    return 3;
  };
  let cases = 0;
  const counts = { 0: 0, 3: 0, 4: 0 };
  for (let code = 0; code < 4 ** 6; code++) {
    const states = [0, 1, 2].map((i) => [0, 1].map((n) => says[Math.floor(code / 4 ** (i * 2 + n)) % 4]!));
    const a: Attestation[] = [];
    states.forEach((perSubject, i) => perSubject.forEach((s, n) => {
      if (s === 'target' || s === 'both') a.push(att(a.length, builders[i]!, H, { name: names[n]! }));
      if (s === 'other' || s === 'both') a.push(att(a.length, builders[i]!, G, { name: names[n]! }));
    }));
    for (let mask = 0; mask < 8; mask++) {
      const trusted = new Set(builders.slice(0, 3).filter((_, i) => mask & (1 << i)));
      for (let k = 1; k <= 3; k++) {
        const got = decide(a, { trusted, threshold: k }, { sha256: H }).exitCode;
        const want = oracle2(states, mask, k);
        if (got !== want) { t.fail(`states ${JSON.stringify(states)} trusted ${mask.toString(2)} k ${k}: got ${got}, want ${want}`); return; }
        counts[got]++;
        cases++;
      }
    }
  }
  t.is(cases, 4 ** 6 * 8 * 3);
  t.true(counts[0] > 0 && counts[3] > 0 && counts[4] > 0);
});

test('only untrusted builders attest: not enough, with the strangers named in a warning', (t) => {
  const a = [att(0, 'e'.repeat(40), H), att(1, 'f'.repeat(40), H)];
  const v = decide(a, { trusted: new Set(builders), threshold: 1 }, { sha256: H });
  t.is(v.exitCode, 3);
  t.true(v.warnings.some((w) => w.includes('e'.repeat(40)) && w.includes('f'.repeat(40))));
});

test('caller errors: threshold < 1 and malformed hashes throw', (t) => {
  t.throws(() => decide([], { trusted: new Set(), threshold: 0 }, { sha256: H }), { instanceOf: RangeError });
  t.throws(() => decide([], { trusted: new Set(), threshold: 1 }, { sha256: H.toUpperCase() }), { instanceOf: RangeError });
});

test('attestationsOf flattens entries and normalizes sha256: prefixes and case', (t) => {
  const flat = attestationsOf([{ index: 7, builder: 'ABCD', source: SRC, artifacts: [{ platform: 'win64', name: 'a.zip', sha256: `sha256:${H.toUpperCase()}` }, { platform: null, name: 'b', sha256: G }] }]);
  t.deepEqual(flat, [
    { index: 7, builder: 'abcd', source: SRC, platform: 'win64', name: 'a.zip', sha256: H },
    { index: 7, builder: 'abcd', source: SRC, platform: null, name: 'b', sha256: G },
  ]);
});

const arbAttestation = fc.record({
  index: fc.nat(50),
  builder: fc.constantFrom(...builders),
  source: fc.constantFrom(SRC, 'git:' + '1'.repeat(40)),
  platform: fc.constantFrom('x86_64-linux-gnu', 'win64', null),
  name: fc.constantFrom('app.tar.gz', 'app.zip'),
  sha256: fc.constantFrom(H, G, 'd'.repeat(64)),
});

test('property: untrusted attestations never turn a failure into a pass nor a pass into a failure; at most 3 becomes 4', (t) => {
  // Before: "never change the exit code". Under the rule a stranger's claim of the hash can point at real trusted
  // dissent for a subject (3 -> 4); the anti-blocking guarantee is what remains.
  fc.assert(fc.property(fc.array(arbAttestation, { maxLength: 12 }), fc.array(arbAttestation, { maxLength: 6 }), fc.integer({ min: 1, max: 4 }), (trustedOnes, strangers, k) => {
    const trusted = new Set(builders.slice(0, 2));
    const base = trustedOnes.filter((a) => trusted.has(a.builder));
    const extra = strangers.map((a) => ({ ...a, builder: 'f'.repeat(40) }));
    const before = decide(base, { trusted, threshold: k }, { sha256: H }).exitCode;
    const after = decide([...base, ...extra], { trusted, threshold: k }, { sha256: H }).exitCode;
    return before === after || (before === 3 && after === 4);
  }));
  t.pass();
});

test('property: verified implies K trusted agreeing builders in one subject and no trusted dissent anywhere', (t) => {
  fc.assert(fc.property(fc.array(arbAttestation, { maxLength: 16 }), fc.subarray(builders), fc.integer({ min: 1, max: 4 }), (atts, trustedList, k) => {
    const trusted = new Set(trustedList);
    const v = decide(atts, { trusted, threshold: k }, { sha256: H });
    if (v.exitCode !== 0) return true;
    const d = v.decisive!;
    const agreeing = new Set(atts.filter((a) => a.sha256 === H && trusted.has(a.builder) && a.source === d.source && a.platform === d.platform && a.name === d.name).map((a) => a.builder));
    const subjectsOfH = atts.filter((a) => a.sha256 === H && trusted.has(a.builder));
    const dissent = atts.some((a) => a.sha256 !== H && trusted.has(a.builder) && subjectsOfH.some((s) => s.source === a.source && s.platform === a.platform && s.name === a.name));
    return agreeing.size >= k && !dissent;
  }));
  t.pass();
});
