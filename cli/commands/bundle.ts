/**
 * `lafs bundle`: writes an offline proof bundle (docs/bundle.md) for an artifact, so that
 * `lafs-verify --bundle` can decide with no network: one signed checkpoint, every entry that
 * attests the hash (or the named subject) and every entry for the same (source, platform,
 * name), each with its inclusion proof. The bundle is verified before it is written.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { parseVerifierKey } from '../../merkle/note.js';
import { LafsError } from '../../merkle/errors.js';
import { nodeEd25519 } from '../../attestation/node-crypto.js';
import { usageError } from '../errors.js';
import { parseSha256Arg } from '../encoding.js';
import { gatherBundle } from '../gather.js';
import { openLog, type LogOptions } from '../log.js';
import { encodeBundle, verifyBundle, type BundleQuery } from '../proof-bundle.js';
import { examples, logOption, vkeyOption } from '../program.js';

interface BundleOptions extends LogOptions { hash?: string; source?: string; platform?: string; name?: string; output: string; scan?: boolean }

export function registerBundle(program: Command): void {
  program
    .command('bundle')
    .summary('write an offline proof bundle for lafs-verify --bundle')
    .description(`Collects from the log every entry attesting the hash (--hash), or every entry for one
(source, platform, name), plus every entry for the same (source, platform, name) as those, with
an inclusion proof for each against the current signed checkpoint, and writes them as a
versioned JSON proof bundle (see docs/bundle.md). Entries are found with the log server's lookup
index; on a static tile mirror, or with --scan, by reading every entry.`)
    .addOption(logOption('log server URL or static tile mirror'))
    .addOption(vkeyOption("the log's verifier key (name+hex+base64; required: `lafs-log key` on the log's host prints it)"))
    .option('--hash <sha256:hex>', 'the artifact hash to bundle evidence for')
    .option('--source <digest>', 'source digest (with --platform and --name, or to narrow --hash)')
    .option('--platform <platform>', 'platform (with --source and --name, or to narrow --hash)')
    .option('--name <name>', 'artifact name (with --source)')
    .requiredOption('-o, --output <file>', 'where to write the bundle')
    .option('--scan', "read every log entry instead of the server's lookup index (automatic on a static mirror)")
    .addHelpText('after', examples([
      'lafs bundle --log https://log.example.org --vkey "$LAFS_VKEY" \\',
      '    --hash sha256:2a6974c5486f528793c79d42694b5987401e4a43c97f62b1383abf35bcee44a8 -o app.lafs-bundle.json',
      'lafs bundle --log https://log.example.org --vkey "$LAFS_VKEY" --source git:0123...cdef \\',
      '    --platform x86_64-linux-gnu --name app-1.0.tar.gz -o app.lafs-bundle.json',
    ]))
    .action(async (opts: BundleOptions) => {
      let query: BundleQuery;
      if (opts.hash !== undefined) {
        if (opts.name !== undefined) throw usageError('--name goes with --source (and --platform), not with --hash');
        query = { hash: `sha256:${parseSha256Arg(opts.hash, '--hash')}` };
      } else {
        if (opts.source === undefined || opts.name === undefined) throw usageError('give --hash sha256:HEX, or --source D --name N (with --platform P)');
        query = opts.platform !== undefined ? { source: opts.source, platform: opts.platform, name: opts.name } : { source: opts.source, name: opts.name };
      }
      const client = openLog(opts, 'bundle');
      const cp = await client.checkpoint();
      const filters = 'hash' in query ? { source: opts.source, platform: opts.platform } : {};
      const bundle = await gatherBundle(client, cp, query, filters, { scan: opts.scan ?? false });
      const checked = await verifyBundle(bundle, parseVerifierKey(opts.vkey!, nodeEd25519));
      if (!checked.ok) throw new LafsError('bad-bundle', `the log's evidence does not verify, bundle not written: ${checked.reason}`);
      await writeFile(opts.output, encodeBundle(bundle));
      if (bundle.entries.length === 0) process.stderr.write('warning: no entry matches; the bundle holds only the checkpoint\n');
      process.stdout.write(`wrote ${opts.output}: ${bundle.entries.length} entr${bundle.entries.length === 1 ? 'y' : 'ies'}, checkpoint size ${cp.checkpoint.size}\n`);
    });
}
