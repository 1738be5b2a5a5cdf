/**
 * The policy of `lafs-verify`, as a pure function: verified attestations + the user's trusted
 * builders + a threshold + the file's hash -> a verdict. No I/O and no cryptography here: the
 * caller has already checked every signature and proof (sigstore's split of verification from
 * policy), so this module can be tested exhaustively.
 *
 * The rule (issue 4, DESIGN.md section 3 "Disagreement"): a subject is one (source, platform,
 * artifact name); the subjects in question are those under which anyone attests this hash (after
 * the --source/--platform/--name filters). The file passes when, for one of them, at least K
 * distinct trusted builders attest exactly this hash and no trusted builder attests a different
 * hash for it. A trusted builder that attests both this hash and another one for the same subject
 * contradicts itself, which also counts as disagreement. When both conditions fail, disagreement
 * (4) wins over "not enough" (3): a subject under which only untrusted builders claim this hash,
 * while a trusted builder attests another hash for it, is a disagreement, not a warning.
 *
 * Two refinements, both about who may change the outcome:
 * - Stricter than the bare rule: among the subjects a trusted builder vouches for (attests this
 *   hash under), trusted dissent under any of them fails the file, even if another one passes.
 *   Trusted builders disagreeing about which file this is, is exactly what the log is for.
 * - Anti-blocking: untrusted claims can never turn a pass into a failure. Anyone able to submit
 *   could otherwise block any artifact by claiming its hash under a name that trusted builders
 *   built differently. So a subject only strangers claim this hash under is decisive only when no
 *   trusted subject passes; untrusted builders can at most turn "not enough" (3) into
 *   disagreement (4), by pointing at real trusted dissent. Their own dissent is only a warning.
 */

/** One artifact claim of one verified log entry. */
export interface Attestation {
  index: number;
  /** Primary-key fingerprint of the signer, lowercase hex. */
  builder: string;
  source: string;
  platform: string | null;
  name: string;
  /** 64 lowercase hex. */
  sha256: string;
}

export interface VerdictTarget {
  sha256: string;
  source?: string;
  platform?: string;
  name?: string;
}

export interface VerdictPolicy {
  /** Fingerprints (lowercase hex) of the builders the user trusts. */
  trusted: ReadonlySet<string>;
  /** K >= 1. */
  threshold: number;
}

export interface Subject { source: string; platform: string | null; name: string }

export interface Dissent {
  builder: string;
  /** The other hashes this builder attests for the subject. */
  hashes: string[];
  /** The builder also attests the target hash: it contradicts itself. */
  selfContradiction: boolean;
  indices: number[];
}

export interface SubjectReport extends Subject {
  /** Trusted builders attesting exactly the target hash and nothing else for this subject. */
  trustedAgree: string[];
  trustedDisagree: Dissent[];
  untrustedAgree: string[];
  untrustedDisagree: Dissent[];
  /** Indices of the entries that speak about this subject. */
  indices: number[];
}

export type VerdictStatus = 'verified' | 'not-enough' | 'disagreement';

export interface Verdict {
  status: VerdictStatus;
  /** 0 verified, 3 not enough trusted builders, 4 trusted builders disagree. */
  exitCode: 0 | 3 | 4;
  sha256: string;
  threshold: number;
  /** Every subject anyone attests the target hash under (after the target's filters), sorted. */
  subjects: SubjectReport[];
  /** The subject the verdict is about (the passing one, the disagreeing one, or the best one); null when no trusted builder attests the hash and none disagrees. */
  decisive: SubjectReport | null;
  /** One sentence. */
  reason: string;
  warnings: string[];
}

function sameSubject(a: Subject, b: Subject): boolean {
  return a.source === b.source && a.platform === b.platform && a.name === b.name;
}

export function describeSubject(s: Subject): string {
  return `${s.name} (source ${s.source}, platform ${s.platform ?? 'unlabelled'})`;
}

function matchesTarget(a: Attestation, target: VerdictTarget): boolean {
  return a.sha256 === target.sha256
    && (target.source === undefined || a.source === target.source)
    && (target.platform === undefined || a.platform === target.platform)
    && (target.name === undefined || a.name === target.name);
}

function compareSubjects(a: Subject, b: Subject): number {
  return a.name.localeCompare(b.name) || a.source.localeCompare(b.source) || (a.platform ?? '').localeCompare(b.platform ?? '');
}

/** Reports one subject: who agrees, who dissents, trusted or not. */
function reportSubject(subject: Subject, attestations: readonly Attestation[], target: string, trusted: ReadonlySet<string>): SubjectReport {
  const byBuilder = new Map<string, { hashes: Set<string>; indices: Set<number> }>();
  const indices = new Set<number>();
  for (const a of attestations) {
    if (!sameSubject(a, subject)) continue;
    indices.add(a.index);
    let entry = byBuilder.get(a.builder);
    if (!entry) byBuilder.set(a.builder, (entry = { hashes: new Set(), indices: new Set() }));
    entry.hashes.add(a.sha256);
    entry.indices.add(a.index);
  }
  const report: SubjectReport = { ...subject, trustedAgree: [], trustedDisagree: [], untrustedAgree: [], untrustedDisagree: [], indices: [...indices].sort((x, y) => x - y) };
  for (const builder of [...byBuilder.keys()].sort()) {
    const { hashes, indices: builderIndices } = byBuilder.get(builder)!;
    const isTrusted = trusted.has(builder);
    const others = [...hashes].filter((h) => h !== target).sort();
    if (others.length === 0) {
      (isTrusted ? report.trustedAgree : report.untrustedAgree).push(builder);
    } else {
      const dissent: Dissent = { builder, hashes: others, selfContradiction: hashes.has(target), indices: [...builderIndices].sort((x, y) => x - y) };
      (isTrusted ? report.trustedDisagree : report.untrustedDisagree).push(dissent);
    }
  }
  return report;
}

/** The verdict. Throws RangeError on a threshold below 1 or a malformed target hash (caller bugs, not input). */
export function decide(attestations: readonly Attestation[], policy: VerdictPolicy, target: VerdictTarget): Verdict {
  if (!Number.isSafeInteger(policy.threshold) || policy.threshold < 1) throw new RangeError(`threshold must be an integer >= 1, got ${policy.threshold}`);
  if (!/^[0-9a-f]{64}$/.test(target.sha256)) throw new RangeError('target sha256 must be 64 lowercase hex digits');
  const { trusted, threshold } = policy;

  // Every subject anyone attests this hash under; trusted ones are those a trusted builder vouches for.
  const subjects: Subject[] = [];
  for (const a of attestations) {
    if (!matchesTarget(a, target)) continue;
    const s = { source: a.source, platform: a.platform, name: a.name };
    if (!subjects.some((x) => sameSubject(x, s))) subjects.push(s);
  }
  subjects.sort(compareSubjects);
  const reports = subjects.map((s) => reportSubject(s, attestations, target.sha256, trusted));
  const vouched = (r: SubjectReport) => r.trustedAgree.length > 0 || r.trustedDisagree.some((d) => d.selfContradiction);
  const trustedReports = reports.filter(vouched);
  const strangerReports = reports.filter((r) => !vouched(r));

  const warnings: string[] = [];
  for (const r of strangerReports) {
    const dissent = r.trustedDisagree.map((d) => `trusted builder ${d.builder} attests ${d.hashes.map((h) => `sha256:${h}`).join(', ')}`);
    warnings.push(`only untrusted builders (${r.untrustedAgree.join(', ') || 'none'}) attest this hash for ${describeSubject(r)}${dissent.length ? `, and ${dissent.join('; ')} for it` : ''}`);
  }
  for (const r of reports) {
    for (const d of r.untrustedDisagree) {
      warnings.push(`untrusted builder ${d.builder} ${d.selfContradiction ? 'contradicts itself, also attesting' : 'attests'} ${d.hashes.map((h) => `sha256:${h}`).join(', ')} for ${describeSubject(r)}`);
    }
  }
  if (trustedReports.length > 1) {
    warnings.push(`this hash is attested under ${trustedReports.length} different (source, platform, name) subjects; narrow with --source and --platform`);
  }

  const base = { sha256: target.sha256, threshold, subjects: reports, warnings };
  const disagreement = (r: SubjectReport): Verdict => {
    const who = r.trustedDisagree.map((d) => d.builder);
    const n = `${who.length} trusted builder${who.length === 1 ? ' attests' : 's attest'}`;
    const reason = vouched(r)
      ? `${n} a different hash for the same source, platform and name`
      : `no trusted builder attests this hash, and ${n} a different hash for the same source, platform and name`;
    return { ...base, status: 'disagreement', exitCode: 4, decisive: r, reason };
  };
  const trustedDissent = trustedReports.find((r) => r.trustedDisagree.length > 0);
  if (trustedDissent) return disagreement(trustedDissent);
  // The best subject: most trusted agreement, ties broken by the sorted order.
  let best: SubjectReport | null = null;
  for (const r of trustedReports) if (!best || r.trustedAgree.length > best.trustedAgree.length) best = r;
  if (best && best.trustedAgree.length >= threshold) {
    return { ...base, status: 'verified', exitCode: 0, decisive: best, reason: `${best.trustedAgree.length} trusted builder${best.trustedAgree.length === 1 ? ' attests' : 's attest'} this hash (threshold ${threshold}), none disagrees` };
  }
  // Not enough anywhere; then a subject that only strangers claim this hash under, and for which a trusted builder attests another hash, fails both conditions: 4 wins.
  const strangerDissent = strangerReports.find((r) => r.trustedDisagree.length > 0);
  if (strangerDissent) return disagreement(strangerDissent);
  const filters = [target.source && `source ${target.source}`, target.platform && `platform ${target.platform}`, target.name && `name ${target.name}`].filter(Boolean);
  const reason = best && best.trustedAgree.length > 0
    ? `only ${best.trustedAgree.length} trusted builder${best.trustedAgree.length === 1 ? '' : 's'} attest${best.trustedAgree.length === 1 ? 's' : ''} this hash, threshold is ${threshold}`
    : `no trusted builder attests this hash${filters.length ? ` with ${filters.join(', ')}` : ''}`;
  return { ...base, status: 'not-enough', exitCode: 3, decisive: best, reason };
}

/** Every artifact claim of a set of verified entries, flattened for `decide`. */
export function attestationsOf(entries: readonly { index: number; builder: string; source: string; artifacts: readonly { platform: string | null; name: string; sha256: string }[] }[]): Attestation[] {
  return entries.flatMap((e) => e.artifacts.map((a) => ({ index: e.index, builder: e.builder.toLowerCase(), source: e.source, platform: a.platform, name: a.name, sha256: bareHex(a.sha256) })));
}

/** Claims may carry the digest as `sha256:<hex>` or bare hex; the policy compares bare lowercase hex. */
function bareHex(digest: string): string {
  return (digest.startsWith('sha256:') ? digest.slice(7) : digest).toLowerCase();
}
