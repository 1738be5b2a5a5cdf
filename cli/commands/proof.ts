/**
 * `lafs proof`: an inclusion proof for one entry. Against the current signed checkpoint it is a
 * C2SP tlog-proof that verifies offline. For an older tree size the log has no signed checkpoint
 * any more, so the root of that size is recomputed from the audit path (RFC 9162 2.1.3.2) and
 * proven to be a prefix of the signed checkpoint with a consistency proof (2.1.4); the answer is
 * JSON with both proofs.
 */
import type { Command } from 'commander';
import { LafsError } from '../../merkle/errors.js';
import { formatTlogProof } from '../../merkle/tlog-proof.js';
import { toBase64 } from '../encoding.js';
import { openLogForReading, type LogOptions } from '../log.js';
import { examples, integerArg, logOption, vkeyOption } from '../program.js';

/** The audit-path root (RFC 9162 2.1.3.2) lives with the client, which proves `--size` answers. */
export { rootFromInclusionPath } from '../../client/log-client.js';

interface ProofOptions extends LogOptions { index: number; size?: number }

export function registerProof(program: Command): void {
  program
    .command('proof')
    .summary('inclusion proof for one entry (C2SP tlog-proof)')
    .description(`Prints a C2SP tlog-proof (index, inclusion proof, signed checkpoint) for entry INDEX against
the log's current checkpoint; it verifies offline. With --size S smaller than the current tree,
prints JSON: the inclusion proof in the tree of size S, that tree's root, and a consistency
proof from it to the current signed checkpoint.`)
    .addOption(logOption('log server URL or static tile mirror'))
    .addOption(vkeyOption("the log's verifier key (default: asked from the log server, unpinned; required for a mirror)"))
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
      // Through the client: retries and timeouts, the API or verified tiles (a static mirror), every hash checked.
      const past = await client.inclusionProofAt(opts.index, entry.leafHash, size, cp.checkpoint);
      process.stdout.write(JSON.stringify({
        index: opts.index, size, leafHash: toBase64(entry.leafHash), root: toBase64(past.root), inclusionProof: past.proof.map(toBase64),
        consistencyProof: past.consistencyProof.map(toBase64), checkpoint: cp.note,
      }, null, 2) + '\n');
    });
}
