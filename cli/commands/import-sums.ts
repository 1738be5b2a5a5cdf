/**
 * `lafs import-sums`: logs a builder's existing signed checksum file unchanged (DESIGN.md
 * section 3, kind `sha256sums`), so the builder's original OpenPGP signature stays valid. The
 * source and platform are the submitter's unsigned claims, recorded beside the signed bytes: one
 * platform label for every line, or a regular expression whose named group `platform` picks it
 * out of each file name (Bitcoin Core's names carry the platform).
 */
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { SUMS_KIND } from '../../attestation/sums.js';
import { usageError } from '../errors.js';
import { toBase64 } from '../encoding.js';
import { openLog, type LogOptions } from '../log.js';
import { examples, logOption, vkeyOption } from '../program.js';
import { proofPathFor, readArmoredOrBinary, saveAndReport } from './submit.js';

interface ImportOptions extends LogOptions { sums: string; signature: string; publicKey: string; source: string; platform?: string; platformRegex?: string; proofOut?: string; json?: boolean }

export function checkPlatformRegex(pattern: string): void {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'u');
  } catch (error) {
    throw usageError(`--platform-regex is not a valid regular expression (JavaScript, u flag): ${(error as Error).message}`);
  }
  if (!/\(\?<platform>/.test(re.source)) throw usageError('--platform-regex needs a named group (?<platform>...) that captures the platform from each file name');
}

export function registerImportSums(program: Command): void {
  program
    .command('import-sums')
    .summary("log a builder's existing signed SHA256SUMS file as it is")
    .description(`Submits a sha256sum-format checksum file and the builder's detached signature over it,
unchanged, with the source digest and platform you supply as claims. Use --platform when every
file in it is for one platform, or --platform-regex with a named group "platform" to take the
platform from each file name (names the regex does not match are logged without a platform).
Prints the entry index and leaf hash, and saves the inclusion proof (C2SP tlog-proof) as
SUMS.tlog-proof, like \`lafs submit\`.`)
    .addOption(logOption('log server URL'))
    .addOption(vkeyOption("the log's verifier key (name+hex+base64; required: `lafs-log key` on the log's host prints it)"))
    .requiredOption('--sums <file>', 'the checksum file (sha256sum output)')
    .requiredOption('--signature <file>', 'detached OpenPGP signature over the checksum file, armored or binary')
    .requiredOption('--public-key <file>', "the builder's public key, armored or binary (the key that made the signature)")
    .requiredOption('--source <digest>', 'source digest: sha256:<hex> or git:<commit hex>')
    .addOption(new Option('--platform <platform>', 'one platform label for every file').conflicts('platformRegex'))
    .option('--platform-regex <re>', 'JavaScript regex with a named group (?<platform>...) applied to each file name')
    .option('--proof-out <file>', 'where to save the inclusion proof, a C2SP tlog-proof (default: SUMS.tlog-proof)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples([
      'lafs import-sums --log https://log.example.org --vkey "$LAFS_VKEY" \\',
      '    --sums guix.sigs/27.0/laanwj/all.SHA256SUMS --signature guix.sigs/27.0/laanwj/all.SHA256SUMS.asc \\',
      '    --public-key builder-keys/laanwj.gpg --source sha256:<hex of bitcoin-27.0.tar.gz> \\',
      "    --platform-regex '^bitcoin-27\\.0-(?<platform>x86_64-linux-gnu|win64|arm64-apple-darwin|[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+)'",
      'lafs import-sums --log http://127.0.0.1:8080 --vkey "$LAFS_VKEY" --sums SHA256SUMS \\',
      '    --signature SHA256SUMS.asc --public-key release.asc --source git:<commit> --platform linux-x86_64',
    ]))
    .action(async (opts: ImportOptions) => {
      if ((opts.platform === undefined) === (opts.platformRegex === undefined)) throw usageError('give exactly one of --platform P or --platform-regex RE');
      if (opts.platformRegex !== undefined) checkPlatformRegex(opts.platformRegex);
      const client = openLog(opts, 'import-sums');
      const sums = new Uint8Array(await readFile(opts.sums));
      const claims = opts.platform !== undefined ? { source: opts.source, platform: opts.platform } : { source: opts.source, platformRegex: opts.platformRegex! };
      const result = await client.submit({
        kind: SUMS_KIND,
        sums: toBase64(sums),
        signature: await readArmoredOrBinary(opts.signature),
        publicKey: await readArmoredOrBinary(opts.publicKey),
        claims,
      });
      await saveAndReport(result, opts.proofOut ?? proofPathFor(opts.sums), opts.json ?? false);
    });
}
