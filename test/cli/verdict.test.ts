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

/** The rule as the issue states it, written independently of cli/verdict.ts. */
function oracle(states: readonly Says[], trustedMask: number, k: number): 0 | 3 | 4 {
  // Only a trusted builder attesting the target brings the subject into question.
  const trustedAttestsTarget = states.some((s, i) => (trustedMask & (1 << i)) !== 0 && (s === 'target' || s === 'both'));
  if (!trustedAttestsTarget) return 3;
  let agree = 0;
  let disagree = 0;
  states.forEach((s, i) => {
    if (!(trustedMask & (1 << i))) return;
    if (s === 'other' || s === 'both') disagree++;
    else if (s === 'target') agree++;
  });
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

test('a stranger claiming the hash where trusted builders attest another is a warning, not disagreement', (t) => {
  const a = [att(0, 'f'.repeat(40), H), att(1, builders[0]!, G), att(2, builders[1]!, G)];
  const v = decide(a, { trusted: new Set(builders), threshold: 1 }, { sha256: H });
  t.is(v.exitCode, 3);
  t.is(v.subjects.length, 0);
  t.true(v.warnings.some((w) => w.includes('only untrusted builders') && w.includes(builders[0]!) && w.includes(`sha256:${G}`)), v.warnings.join('\n'));
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

test('property: untrusted attestations never change the exit code', (t) => {
  fc.assert(fc.property(fc.array(arbAttestation, { maxLength: 12 }), fc.array(arbAttestation, { maxLength: 6 }), fc.integer({ min: 1, max: 4 }), (trustedOnes, strangers, k) => {
    const trusted = new Set(builders.slice(0, 2));
    const base = trustedOnes.filter((a) => trusted.has(a.builder));
    const extra = strangers.map((a) => ({ ...a, builder: 'f'.repeat(40) }));
    return decide(base, { trusted, threshold: k }, { sha256: H }).exitCode === decide([...base, ...extra], { trusted, threshold: k }, { sha256: H }).exitCode;
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
