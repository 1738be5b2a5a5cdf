/**
 * How `lafs-verify` reports: a short human verdict (who agrees, who disagrees, by name and
 * fingerprint, and which checkpoint it was checked against) or one JSON object for machines.
 * Names come only from the user's own trusted key files, never from the log.
 */
import type { TrustSet } from './trust.js';
import type { VerifyArtifactResult } from './verify-artifact.js';
import { describeSubject, type Dissent } from './verdict.js';

function who(fingerprint: string, trust: TrustSet): { fingerprint: string; name: string | null } {
  return { fingerprint, name: trust.get(fingerprint)?.userIds[0] ?? null };
}

function label(fingerprint: string, trust: TrustSet): string {
  const name = trust.get(fingerprint)?.userIds[0];
  return name ? `${name} ${fingerprint}` : fingerprint;
}

const STATUS_TEXT = {
  verified: 'VERIFIED',
  'not-enough': 'NOT VERIFIED: not enough trusted builders',
  disagreement: 'NOT VERIFIED: trusted builders disagree',
  'log-failure': 'NOT VERIFIED: the log or a proof failed verification',
} as const;

export function verdictJson(result: VerifyArtifactResult, file: string | null): Record<string, unknown> {
  const base = { exitCode: result.exitCode, file, sha256: `sha256:${result.sha256}`, warnings: result.warnings };
  if (result.kind === 'log-failure') return { status: 'log-failure', ...base, reason: result.reason, log: result.log };
  const { verdict, trust } = result;
  const d = verdict.decisive;
  const dissent = (x: Dissent) => ({ ...who(x.builder, trust), hashes: x.hashes.map((h) => `sha256:${h}`), selfContradiction: x.selfContradiction, indices: x.indices });
  return {
    status: verdict.status,
    ...base,
    reason: verdict.reason,
    threshold: verdict.threshold,
    subject: d ? { source: d.source, platform: d.platform, name: d.name } : null,
    agree: d ? d.trustedAgree.map((f) => who(f, trust)) : [],
    disagree: d ? d.trustedDisagree.map(dissent) : [],
    untrustedAgree: d ? d.untrustedAgree : [],
    untrustedDisagree: d ? d.untrustedDisagree.map(dissent) : [],
    subjects: verdict.subjects.map((s) => ({ source: s.source, platform: s.platform, name: s.name, agree: s.trustedAgree, disagree: s.trustedDisagree.map((x) => x.builder), untrustedAgree: s.untrustedAgree, untrustedDisagree: s.untrustedDisagree.map((x) => x.builder), indices: s.indices })),
    entries: result.entries,
    log: result.log,
  };
}

export function verdictText(result: VerifyArtifactResult, file: string | null): string {
  const lines: string[] = [];
  const status = result.kind === 'log-failure' ? 'log-failure' : result.verdict.status;
  lines.push(`${STATUS_TEXT[status]}: ${file ?? ''}${file ? ' ' : ''}sha256:${result.sha256}`);
  if (result.kind === 'log-failure') {
    lines.push(`  ${result.reason}`);
  } else {
    const { verdict, trust } = result;
    lines.push(`  ${verdict.reason}`);
    const d = verdict.decisive;
    if (d) {
      lines.push(`  subject:   ${describeSubject(d)}`);
      const agree = d.trustedAgree.map((f) => label(f, trust));
      lines.push(`  agree:     ${agree.length ? agree.join('\n             ') : 'no trusted builder'}`);
      if (d.trustedDisagree.length) {
        lines.push(`  disagree:  ${d.trustedDisagree.map((x) => `${label(x.builder, trust)} ${x.selfContradiction ? 'contradicts itself, also attesting' : 'attests'} ${x.hashes.map((h) => `sha256:${h}`).join(', ')}`).join('\n             ')}`);
      }
      if (d.untrustedAgree.length || d.untrustedDisagree.length) lines.push(`  untrusted: ${d.untrustedAgree.length} agree, ${d.untrustedDisagree.length} disagree (not counted)`);
    }
  }
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  if (result.log && result.log.origin !== undefined) {
    const consistency = 'consistency' in result.log && result.log.consistency ? `, ${consistencyText(result.log.consistency, result.log.rememberedSize ?? null)}` : '';
    const search = 'search' in result.log && result.log.search === 'scan' ? `; every entry read (scan)` : '';
    lines.push(`  log:       ${result.log.origin}, size ${result.log.size}, root ${result.log.root}${consistency}${search}`);
  }
  return lines.join('\n') + '\n';
}

function consistencyText(c: string, rememberedSize: number | null): string {
  switch (c) {
    case 'first-use': return 'first checkpoint seen from this log (remembered)';
    case 'same': return 'same checkpoint as last time';
    case 'extends': return `proven consistent with size ${rememberedSize} seen before`;
    case 'older-than-remembered': return `older than size ${rememberedSize} seen before`;
    default: return 'consistency not checked offline';
  }
}
