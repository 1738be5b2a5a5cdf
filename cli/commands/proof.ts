/**
 * `lafs proof`: an inclusion proof for one entry. Against the current signed checkpoint it is a
 * C2SP tlog-proof that verifies offline. For an older tree size the log has no signed checkpoint
 * any more, so the root of that size is recomputed from the audit path (RFC 9162 2.1.3.2) and
 * proven to be a prefix of the signed checkpoint with a consistency proof (2.1.4); the answer is
 * JSON with both proofs.
 */
import type { Command } from 'commander';
import { nodeHash, type Hash, type Sha256 } from '../../merkle/hash.js';
import { LafsError } from '../../merkle/errors.js';
import { formatTlogProof } from '../../merkle/tlog-proof.js';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { fromBase64Strict, toBase64 } from '../encoding.js';
import { openLogForReading, type LogOptions } from '../log.js';
import { examples, integerArg, urlArg } from '../program.js';

interface ProofOptions extends LogOptions { index: number; size?: number }

/** RFC 9162 2.1.3.2 run forwards: the root an audit path implies, or null if the path has the wrong shape. */
export function rootFromInclusionPath(index: number, size: number, leaf: Hash, path: readonly Hash[], sha256: Sha256): Hash | null {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r, sha256);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = nodeHash(r, p, sha256);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

async function fetchInclusionPath(log: string, index: number, size: number): Promise<Hash[]> {
  const url = `${log}/v1/proof/inclusion?index=${index}&size=${size}`;
  let body: { proof?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    body = (await response.json()) as { proof?: unknown };
  } catch (error) {
    throw new LafsError('unavailable', `${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(body.proof) || body.proof.some((h) => typeof h !== 'string')) throw new LafsError('bad-proof', `${url}: answer has no "proof" array of base64 hashes`);
  return (body.proof as string[]).map((h, i) => {
    const bytes = fromBase64Strict(h, `${url} proof[${i}]`);
    if (bytes.length !== 32) throw new LafsError('bad-proof', `${url}: proof[${i}] is not 32 bytes`);
    return bytes;
  });
}

export function registerProof(program: Command): void {
  program
    .command('proof')
    .summary('inclusion proof for one entry (C2SP tlog-proof)')
    .description(`Prints a C2SP tlog-proof (index, inclusion proof, signed checkpoint) for entry INDEX against
the log's current checkpoint; it verifies offline. With --size S smaller than the current tree,
prints JSON: the inclusion proof in the tree of size S, that tree's root, and a consistency
proof from it to the current signed checkpoint.`)
    .option('--log <url>', 'log server URL', urlArg)
    .option('--vkey <key>', "the log's verifier key (default: asked from the log, unpinned)")
    .requiredOption('--index <n>', 'entry index (0-based)', integerArg(0))
    .option('--size <s>', 'tree size to prove inclusion in (default: the current checkpoint)', integerArg(1))
    .addHelpText('after', examples([
      'lafs proof --log http://127.0.0.1:8080 --vkey "$LAFS_VKEY" --index 7 > entry-7.tlog-proof',
      'lafs proof --log https://log.example.org --vkey "$LAFS_VKEY" --index 7 --size 100',
    ]))
    .action(async (opts: ProofOptions) => {
      const client = await openLogForReading(opts, 'proof');
      const cp = await client.checkpoint();
      const size = opts.size ?? cp.checkpoint.size;
      if (size > cp.checkpoint.size) throw new LafsError('out-of-range', `--size ${size} is beyond the log: its signed tree size is ${cp.checkpoint.size}`);
      if (opts.index >= size) throw new LafsError('out-of-range', `--index ${opts.index} is not in a tree of size ${size}`);
      const entry = await client.entry(opts.index, cp.checkpoint);
      if (size === cp.checkpoint.size) {
        const proof = await client.inclusionProof(opts.index, entry.leafHash, cp.checkpoint);
        process.stdout.write(formatTlogProof({ index: opts.index, proof, checkpoint: cp.note }));
        return;
      }
      const path = await fetchInclusionPath(opts.log!, opts.index, size);
      const root = rootFromInclusionPath(opts.index, size, entry.leafHash, path, nodeSha256);
      if (!root) throw new LafsError('bad-proof', `the log's inclusion proof for index ${opts.index} in size ${size} has the wrong length`);
      const older = { origin: cp.checkpoint.origin, size, root, extensions: [] };
      const consistency = await client.proveConsistency(older, cp.checkpoint);
      process.stdout.write(JSON.stringify({
        index: opts.index, size, leafHash: toBase64(entry.leafHash), root: toBase64(root), inclusionProof: path.map(toBase64),
        consistencyProof: consistency.map(toBase64), checkpoint: cp.note,
      }, null, 2) + '\n');
    });
}
