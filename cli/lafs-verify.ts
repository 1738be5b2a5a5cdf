#!/usr/bin/env node
/**
 * `lafs-verify`: may I trust this file? Passes (exit 0) only when at least K builders the user
 * trusts attest exactly this file's hash for the same (source, platform, name), none of them
 * attests a different hash, and the log (or the offline bundle) proves all of it. The policy is
 * cli/verdict.ts; the evidence gathering and checking is cli/verify-artifact.ts.
 */
import { Option } from 'commander';
import { usageError, ExitCode } from './errors.js';
import { parseSha256Arg } from './encoding.js';
import { packageVersion } from './log.js';
import { verdictJson, verdictText } from './output.js';
import { examples, integerArg, LOG_ENV, logOption, makeProgram, runProgram, vkeyOption } from './program.js';
import { verifyArtifact } from './verify-artifact.js';

interface Options { hash?: string; log?: string; vkey: string; trust: string; threshold: number; source?: string; platform?: string; name?: string; bundle?: string; scan?: boolean; json?: boolean }

const program = makeProgram('lafs-verify', 'Verifies that builders you trust reproducibly built this file, using a build transparency log.', packageVersion())
  .argument('[file]', 'the file to verify (hashed with SHA-256, streaming)')
  .addOption(new Option('--hash <sha256:hex>', 'verify this hash instead of hashing a file'))
  .addOption(logOption('log server URL or static tile mirror (not needed with --bundle)'))
  .addOption(vkeyOption("the log's verifier key (name+hex+base64), pins the log's identity").makeOptionMandatory())
  .requiredOption('--trust <keys>', 'armored keyring file, or directory of key files, of the builders you trust')
  .option('--threshold <k>', 'how many distinct trusted builders must agree', integerArg(1), 2)
  .option('--source <digest>', 'only attestations for this source digest')
  .option('--platform <platform>', 'only attestations for this platform')
  .option('--name <name>', 'only attestations under this artifact name')
  .option('--bundle <file>', 'verify offline from a proof bundle made by `lafs bundle`')
  .option('--scan', "read every log entry instead of the server's lookup index (automatic on a static mirror)")
  .option('--json', 'print the verdict as one JSON object')
  .addHelpText('after', `
Exit codes:
  0  verified: at least K trusted builders attest this exact hash, none disagrees
  2  usage or I/O error (bad arguments, unreadable file, log unreachable)
  3  not enough trusted builders attest this file
  4  trusted builders disagree (one attests a different hash for the same source, platform, name)
  5  the log or a proof failed verification (bad checkpoint signature, bad inclusion or
     consistency proof, bad builder signature, a log that rewrote its history)

Entries are found with the log server's lookup index; on a static tile mirror (no /v1 API), or
with --scan, every entry up to the verified checkpoint is read from verified entry bundles instead.

The last verified checkpoint of each log is remembered in $XDG_CONFIG_HOME/lafs (default
~/.config/lafs); later runs require a consistency proof from it.
${examples([
    'lafs-verify bitcoin-27.0-x86_64-linux-gnu.tar.gz --log https://log.example.org \\',
    '    --vkey "$LAFS_VKEY" --trust builder-keys/ --threshold 3',
    'lafs-verify --hash sha256:2a6974c5486f528793c79d42694b5987401e4a43c97f62b1383abf35bcee44a8 \\',
    '    --log https://log.example.org --vkey "$LAFS_VKEY" --trust keys.asc --json',
    'lafs-verify app.tar.gz --bundle app.lafs-bundle.json --vkey "$LAFS_VKEY" --trust keys/   # offline',
    'lafs-verify app.tar.gz --log https://mirror.example.net/lafs --vkey "$LAFS_VKEY" --trust keys/   # tile mirror: scans',
  ])}`)
  .action(async (file: string | undefined, opts: Options) => {
    if ((file === undefined) === (opts.hash === undefined)) throw usageError('give exactly one of FILE or --hash sha256:HEX');
    if (opts.bundle === undefined && opts.log === undefined) throw usageError(`give --log URL or $${LOG_ENV} (or --bundle FILE to verify offline)`);
    const sha256 = opts.hash !== undefined ? parseSha256Arg(opts.hash, '--hash') : undefined;
    const result = await verifyArtifact({
      ...(file !== undefined ? { file } : {}),
      ...(sha256 !== undefined ? { sha256 } : {}),
      log: opts.log, vkey: opts.vkey, trust: opts.trust, threshold: opts.threshold,
      source: opts.source, platform: opts.platform, name: opts.name, bundle: opts.bundle, scan: opts.scan ?? false,
    });
    process.stdout.write(opts.json ? JSON.stringify(verdictJson(result, file ?? null), null, 2) + '\n' : verdictText(result, file ?? null));
    process.exitCode = result.exitCode === 0 ? ExitCode.ok : result.exitCode;
  });

await runProgram(program);
