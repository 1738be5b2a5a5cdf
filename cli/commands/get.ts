/**
 * `lafs get`: one log entry, verified (tiles against the signed checkpoint, builder signature),
 * shown as what it claims: kind, builder, source, and each artifact's platform, hash and name.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { verifyLeaf } from '../../attestation/record.js';
import { LafsError } from '../../merkle/errors.js';
import { toBase64 } from '../encoding.js';
import { openLogForReading, type LogOptions } from '../log.js';
import { examples, integerArg, logOption, vkeyOption } from '../program.js';

interface GetOptions extends LogOptions { index: number; json?: boolean; leafOut?: string }

export function registerGet(program: Command): void {
  program
    .command('get')
    .summary('show one log entry, verified')
    .description(`Fetches entry INDEX under the log's current signed checkpoint, checks it against the tree
and its builder's signature, and prints what it attests.`)
    .addOption(logOption('log server URL or tile mirror'))
    .addOption(vkeyOption("the log's verifier key (default: asked from the log, unpinned)"))
    .requiredOption('--index <n>', 'entry index (0-based)', integerArg(0))
    .option('--leaf-out <file>', 'also write the raw leaf bytes to this file')
    .option('--json', 'print the entry as JSON')
    .addHelpText('after', examples([
      'lafs get --log http://127.0.0.1:8080 --vkey "$LAFS_VKEY" --index 0',
      'lafs get --log https://log.example.org --index 41 --json',
    ]))
    .action(async (opts: GetOptions) => {
      const client = await openLogForReading(opts, 'get');
      const cp = await client.checkpoint();
      if (opts.index >= cp.checkpoint.size) throw new LafsError('out-of-range', `--index ${opts.index} is beyond the log: its tree size is ${cp.checkpoint.size}`);
      const entry = await client.entry(opts.index, cp.checkpoint);
      const checked = await verifyLeaf(entry.decoded);
      if (opts.leafOut) await writeFile(opts.leafOut, entry.leaf);
      const signature = checked.ok ? { ok: true, builder: checked.value.signature.builder, created: checked.value.signature.created.toISOString(), warnings: checked.value.signature.warnings } : { ok: false, reason: checked.reason };
      if (opts.json) {
        process.stdout.write(JSON.stringify({
          index: entry.index, leafHash: toBase64(entry.leafHash), kind: entry.view.kind, source: entry.view.source,
          artifacts: entry.view.artifacts.map((a) => ({ platform: a.platform, name: a.name, hash: `sha256:${a.sha256.replace(/^sha256:/, '')}` })),
          flags: entry.view.flags, claims: entry.decoded.claims ?? null, signature, treeSize: cp.checkpoint.size,
        }, null, 2) + '\n');
      } else {
        const lines = [
          `index ${entry.index} (tree size ${cp.checkpoint.size})`,
          `leaf-hash ${toBase64(entry.leafHash)}`,
          `kind ${entry.view.kind}`,
          checked.ok ? `builder ${checked.value.signature.builder} (signature good, made ${checked.value.signature.created.toISOString()})` : `builder signature DOES NOT VERIFY: ${checked.reason}`,
          `source ${entry.view.source}`,
          ...entry.view.artifacts.map((a) => `artifact ${a.platform ?? '-'} sha256:${a.sha256.replace(/^sha256:/, '')} ${a.name}`),
          ...entry.view.flags.map((f) => `flag ${f}`),
          ...(checked.ok ? checked.value.signature.warnings.map((w) => `warning ${w}`) : []),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (!checked.ok) process.exitCode = 5;
    });
}
