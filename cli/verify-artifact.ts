/**
 * The I/O half of `lafs-verify`: get the evidence (from the log, or from an offline bundle),
 * check all of it cryptographically, keep the log honest over time, then hand the verified claims
 * to the pure policy in cli/verdict.ts.
 *
 * Order matters: the checkpoint is verified and proven consistent with the one remembered from
 * the last run (RFC 9162 2.1.4) before anything under it is believed; every entry then has to
 * prove inclusion under that checkpoint and carry a valid builder signature. Any failure there
 * means the log (or the bundle) is not to be believed at all: exit 5, whatever the builders say.
 */
import { readFile } from 'node:fs/promises';
import { LogClient, type VerifiedCheckpoint } from '../client/log-client.js';
import { LafsError } from '../merkle/errors.js';
import type { Checkpoint } from '../merkle/checkpoint.js';
import { parseVerifierKey, type NoteVerifier } from '../merkle/note.js';
import { nodeEd25519 } from '../attestation/node-crypto.js';
import { loadCheckpoint, saveCheckpoint, type RememberedCheckpoint } from './config.js';
import { fromBase64Strict, toBase64 } from './encoding.js';
import { ExitCode, isLogFailure } from './errors.js';
import { gatherBundle, type SearchMethod } from './gather.js';
import { sha256File } from './hash-file.js';
import { parseBundle, verifyBundle, type ProofBundle, type VerifiedBundle } from './proof-bundle.js';
import { loadTrust, type TrustSet } from './trust.js';
import { attestationsOf, decide, type Verdict } from './verdict.js';

export interface VerifyArtifactOptions {
  file?: string;
  /** 64 lowercase hex, when the caller already knows the hash. */
  sha256?: string;
  log?: string;
  vkey: string;
  trust: string;
  threshold: number;
  source?: string;
  platform?: string;
  name?: string;
  bundle?: string;
  /** Read every log entry instead of the server's lookup index (the fallback on a static mirror). */
  scan?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Progress bar target while hashing (null: none). */
  progress?: NodeJS.WriteStream | null;
}

/** How the checkpoint relates to the one remembered from earlier runs. */
export type Consistency = 'first-use' | 'same' | 'extends' | 'older-than-remembered' | 'unchecked-offline';

/** How the entries were found: the server's lookup index, a scan of every entry, or an offline bundle. */
export type Search = SearchMethod | 'bundle';

export interface LogState { origin: string; size: number; root: string; consistency: Consistency; rememberedSize: number | null; search: Search }

export type VerifyArtifactResult =
  | { kind: 'verdict'; exitCode: 0 | 3 | 4; sha256: string; verdict: Verdict; log: LogState; trust: TrustSet; entries: number; warnings: string[] }
  | { kind: 'log-failure'; exitCode: 5; sha256: string; reason: string; log: Partial<LogState> | null; trust: TrustSet; warnings: string[] };

function rememberedAsCheckpoint(r: RememberedCheckpoint): Checkpoint {
  return { origin: r.origin, size: r.size, root: fromBase64Strict(r.root, 'remembered checkpoint root'), extensions: [] };
}

/** The log or bundle failed verification: becomes a verdict of exit 5, not a thrown error. */
class LogFailure extends Error {}

/** Online: checks the new checkpoint against the remembered one with a consistency proof. */
async function checkAgainstRemembered(client: LogClient, cp: VerifiedCheckpoint, remembered: RememberedCheckpoint | null): Promise<Consistency> {
  if (!remembered) return 'first-use';
  const older = rememberedAsCheckpoint(remembered);
  const now = cp.checkpoint;
  if (older.size === now.size) {
    if (toBase64(older.root) !== toBase64(now.root)) throw new LogFailure(`the log's checkpoint of size ${now.size} has root ${toBase64(now.root)}, but earlier it signed root ${remembered.root} for the same size: the log rewrote its history`);
    return 'same';
  }
  try {
    if (older.size < now.size) {
      await client.proveConsistency(older, now);
      return 'extends';
    }
    await client.proveConsistency(now, older);
    return 'older-than-remembered';
  } catch (error) {
    if (isLogFailure(error)) throw new LogFailure(`the log's checkpoint (size ${now.size}) is not consistent with the one verified earlier (size ${remembered.size}, remembered in the config dir): the log rewrote its history (${error.message})`);
    throw error;
  }
}

/**
 * Saves `cp` as the remembered checkpoint. Another run may have remembered a newer one meanwhile
 * (saving never moves backwards): then ours must be a prefix of it, or the log showed two runs two
 * histories.
 */
async function remember(client: LogClient, cp: VerifiedCheckpoint, env: NodeJS.ProcessEnv): Promise<void> {
  const saved = await saveCheckpoint({ origin: cp.checkpoint.origin, size: cp.checkpoint.size, root: toBase64(cp.checkpoint.root), note: cp.note }, env);
  if (saved.status === 'saved') return;
  const other = saved.current;
  if (saved.status === 'conflict') throw new LogFailure(`the log's checkpoint of size ${other.size} has root ${toBase64(cp.checkpoint.root)}, but another run remembered root ${other.root} for the same size (${saved.file}): the log forked its history`);
  try {
    await client.proveConsistency(cp.checkpoint, rememberedAsCheckpoint(other));
  } catch (error) {
    if (isLogFailure(error)) throw new LogFailure(`the log's checkpoint (size ${cp.checkpoint.size}) is not consistent with the newer one another run remembered (size ${other.size}, ${saved.file}): the log forked its history (${error.message})`);
    throw error;
  }
}

function offlineConsistency(cp: Checkpoint, remembered: RememberedCheckpoint | null, warnings: string[]): Consistency {
  if (!remembered) return 'unchecked-offline';
  if (remembered.size === cp.size) {
    if (remembered.root !== toBase64(cp.root)) throw new LogFailure(`the bundle's checkpoint of size ${cp.size} has root ${toBase64(cp.root)}, but the log earlier signed root ${remembered.root} for the same size: the log forked its history`);
    return 'same';
  }
  warnings.push(`offline: cannot prove the bundle's checkpoint (size ${cp.size}) consistent with the one verified earlier (size ${remembered.size}); run online to check`);
  return 'unchecked-offline';
}

async function readBundleFile(path: string): Promise<ProofBundle> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new LafsError('io', `--bundle ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, { cause: error });
  }
  try {
    return parseBundle(text);
  } catch (error) {
    if (error instanceof LafsError) throw new LogFailure(`${path}: ${error.message}`);
    throw error;
  }
}

export async function verifyArtifact(options: VerifyArtifactOptions): Promise<VerifyArtifactResult> {
  const env = options.env ?? process.env;
  const trust = await loadTrust(options.trust);
  let verifier: NoteVerifier;
  try {
    verifier = parseVerifierKey(options.vkey, nodeEd25519);
  } catch (error) {
    throw new LafsError('usage', `--vkey is not a note verifier key (name+hex+base64, as printed by \`lafs-log serve\`): ${(error as Error).message}`, { cause: error });
  }
  const sha256 = options.sha256 ?? (await sha256File(options.file!, { progress: options.progress ?? process.stderr }));
  const warnings: string[] = [];
  let log: Partial<LogState> | null = null;

  try {
    let verified: VerifiedBundle;
    let consistency: Consistency;
    let remembered: RememberedCheckpoint | null;
    let search: Search = 'bundle';
    if (options.bundle !== undefined) {
      // Offline means offline: the log is not contacted, and saying so beats silently ignoring the option.
      if (options.log !== undefined) warnings.push(`--log ${options.log} is ignored with --bundle: verified offline, from the bundle only`);
      if (options.scan) warnings.push('--scan is ignored with --bundle: verified offline, from the bundle only');
      const bundle = await readBundleFile(options.bundle);
      const checked = await verifyBundle(bundle, verifier);
      if (!checked.ok) throw new LogFailure(`${options.bundle}: ${checked.reason}`);
      verified = checked.value;
      log = { origin: verified.checkpoint.origin, size: verified.checkpoint.size, root: toBase64(verified.checkpoint.root) };
      remembered = await loadCheckpoint(verified.checkpoint.origin, env);
      consistency = offlineConsistency(verified.checkpoint, remembered, warnings);
    } else {
      if (!options.log) throw new LafsError('usage', '--log URL is required unless --bundle FILE is given');
      const client = new LogClient({ url: options.log, verifierKey: options.vkey });
      let cp: VerifiedCheckpoint;
      try {
        cp = await client.checkpoint();
      } catch (error) {
        if (isLogFailure(error)) throw new LogFailure(`${options.log}/checkpoint does not verify with --vkey: ${error.message}`);
        throw error;
      }
      log = { origin: cp.checkpoint.origin, size: cp.checkpoint.size, root: toBase64(cp.checkpoint.root) };
      remembered = await loadCheckpoint(cp.checkpoint.origin, env);
      consistency = await checkAgainstRemembered(client, cp, remembered);
      if (consistency === 'older-than-remembered') warnings.push(`the log served a checkpoint (size ${cp.checkpoint.size}) older than one verified earlier (size ${remembered!.size}); entries logged since may be missing`);
      let bundle: ProofBundle & { search: SearchMethod };
      try {
        bundle = await gatherBundle(client, cp, { hash: `sha256:${sha256}` }, { source: options.source, platform: options.platform, name: options.name }, { scan: options.scan ?? false });
      } catch (error) {
        if (isLogFailure(error)) throw new LogFailure(`an entry from ${options.log} does not verify: ${error.message}`);
        throw error;
      }
      search = bundle.search;
      const checked = await verifyBundle(bundle, verifier);
      if (!checked.ok) throw new LogFailure(`evidence from ${options.log} does not verify: ${checked.reason}`);
      verified = checked.value;
      if (consistency !== 'older-than-remembered') await remember(client, cp, env);
    }
    const state: LogState = { origin: verified.checkpoint.origin, size: verified.checkpoint.size, root: toBase64(verified.checkpoint.root), consistency, rememberedSize: remembered?.size ?? null, search };
    const attestations = attestationsOf(verified.entries.map((e) => ({ index: e.index, builder: e.signature.builder, source: e.view.source, artifacts: e.view.artifacts })));
    const verdict = decide(attestations, { trusted: new Set(trust.keys()), threshold: options.threshold }, {
      sha256,
      ...(options.source !== undefined ? { source: options.source } : {}),
      ...(options.platform !== undefined ? { platform: options.platform } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
    });
    // Policy objections a stricter OpenPGP implementation would raise (e.g. key expired since), for the entries the verdict rests on.
    const decisive = new Set(verdict.decisive?.indices ?? []);
    for (const e of verified.entries) if (decisive.has(e.index)) for (const w of e.signature.warnings) warnings.push(`entry ${e.index} (builder ${e.signature.builder}): ${w}`);
    return { kind: 'verdict', exitCode: verdict.exitCode, sha256, verdict, log: state, trust, entries: verified.entries.length, warnings: [...verdict.warnings, ...warnings] };
  } catch (error) {
    if (error instanceof LogFailure) return { kind: 'log-failure', exitCode: ExitCode.logFailure, sha256, reason: error.message, log, trust, warnings };
    throw error;
  }
}
