/**
 * `lafs attest`: a builder's statement about one build (DESIGN.md section 3) — "source S for
 * platform P gave these artifacts with these hashes" — and its detached signature, by a key file
 * from `lafs keygen` or by the system gpg. Files are hashed streaming, so multi-GB artifacts
 * cost constant memory. With --submit the statement also goes to the log.
 */
import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { serializeStatement, type Artifact } from '../../attestation/statement.js';
import { usageError } from '../errors.js';
import { sha256File } from '../hash-file.js';
import { openGpgSigner, signWithKeyFile } from '../sign.js';
import { vkeyAdvice } from '../log.js';
import { examples, LOG_ENV, logOption, VKEY_ENV, vkeyOption } from '../program.js';
import { proofPathFor, saveAndReport, submitStatement } from './submit.js';

interface AttestOptions {
  source?: string; sourceArchive?: string; platform: string; key?: string; gpg?: string;
  out?: string; submit?: boolean; log?: string; vkey?: string; json?: boolean;
}

const SOURCE_DIGEST = /^(sha256:[0-9a-f]{64}|git:(?:[0-9a-f]{40}|[0-9a-f]{64}))$/;
const PLATFORM = /^[A-Za-z0-9._+-]{1,64}$/;

export async function attest(files: readonly string[], opts: AttestOptions): Promise<{ statementFile: string; signatureFile: string; statement: Uint8Array; signature: string; publicKey: () => Promise<string> }> {
  if ((opts.source === undefined) === (opts.sourceArchive === undefined)) throw usageError('give exactly one of --source DIGEST or --source-archive FILE');
  if ((opts.key === undefined) === (opts.gpg === undefined)) throw usageError('give exactly one of --key PRIVKEY (from `lafs keygen`) or --gpg KEYID');
  if (opts.source !== undefined && !SOURCE_DIGEST.test(opts.source)) throw usageError(`--source must be sha256:<64 lowercase hex> or git:<40 or 64 lowercase hex>, got "${opts.source}"`);
  if (!PLATFORM.test(opts.platform)) throw usageError(`--platform must be 1-64 characters from A-Za-z0-9._+-, got "${opts.platform}"`);
  if (opts.submit && (!opts.log || !opts.vkey)) throw usageError(`--submit needs --log URL and --vkey KEY (or $${LOG_ENV} and $${VKEY_ENV}): ${vkeyAdvice(opts.log)}`);
  const names = new Map<string, string>();
  for (const file of files) {
    const name = basename(file);
    const other = names.get(name);
    if (other !== undefined) throw usageError(`two files share the name ${name} (${other} and ${file}): artifact names must be unique in one statement`);
    names.set(name, file);
  }

  // An unknown or ambiguous --gpg KEYID is refused before any (possibly huge) file is hashed.
  const gpgSigner = opts.gpg !== undefined ? await openGpgSigner(opts.gpg) : undefined;
  const source = opts.source ?? `sha256:${await sha256File(opts.sourceArchive!)}`;
  const artifacts: Artifact[] = [];
  for (const [name, file] of [...names].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    artifacts.push({ name, sha256: await sha256File(file) });
  }
  const statement = serializeStatement({ source, platform: opts.platform, artifacts });

  let signature: string;
  let publicKey: () => Promise<string>;
  if (opts.key !== undefined) {
    const signed = await signWithKeyFile(statement, opts.key);
    signature = signed.signature;
    publicKey = async () => signed.publicKey;
  } else {
    signature = await gpgSigner!.sign(statement);
    publicKey = gpgSigner!.publicKey;
  }
  const prefix = opts.out ?? `lafs-${opts.platform}`;
  const statementFile = `${prefix}.statement`;
  const signatureFile = `${statementFile}.asc`;
  await writeFile(statementFile, statement);
  await writeFile(signatureFile, signature);
  return { statementFile, signatureFile, statement, signature, publicKey };
}

export function registerAttest(program: Command): void {
  program
    .command('attest')
    .summary('hash build outputs, write and sign a statement (optionally submit it)')
    .description(`Hashes FILES, writes the statement PREFIX.statement (lafs-attestation/v1: source, platform,
one "artifact sha256:<hex> <name>" line per file, names sorted) and its detached armored
signature PREFIX.statement.asc. Sign with a key file from \`lafs keygen\` (--key) or with gpg
(--gpg KEYID, uses GNUPGHOME; works with smartcards). With --submit, also sends it to the log
and saves the inclusion proof as PREFIX.statement.tlog-proof.`)
    .argument('<files...>', 'build outputs to attest (their base names become the artifact names)')
    .addOption(new Option('--source <digest>', 'source digest: sha256:<hex> of the source archive or git:<commit hex>').conflicts('sourceArchive'))
    .option('--source-archive <file>', 'hash this source archive to get the source digest')
    .requiredOption('--platform <platform>', 'target platform, e.g. x86_64-linux-gnu')
    .addOption(new Option('--key <privkey>', 'armored private key file (from `lafs keygen`)').conflicts('gpg'))
    .option('--gpg <keyid>', 'sign with the system gpg and this key ID or fingerprint')
    .option('--out <prefix>', 'output prefix (default: lafs-PLATFORM)')
    .option('--submit', 'also submit the statement to the log')
    .addOption(logOption('log server URL (with --submit)'))
    .addOption(vkeyOption("the log's verifier key (with --submit; `lafs-log key` on the log's host prints it)"))
    .option('--json', 'print the submission result as JSON')
    .addHelpText('after', examples([
      'lafs attest --source-archive app-1.0.tar.gz --platform x86_64-linux-gnu \\',
      '    --key ~/.lafs/alice/private-key.asc --out app-1.0-x86_64 dist/app-1.0-x86_64.tar.gz',
      'lafs attest --source git:0123456789abcdef0123456789abcdef01234567 --platform win64 \\',
      '    --gpg 0xA1B2C3D4E5F60708 --submit --log https://log.example.org --vkey "$LAFS_VKEY" dist/*.zip',
    ]))
    .action(async (files: string[], opts: AttestOptions) => {
      const made = await attest(files, opts);
      process.stderr.write(`wrote ${made.statementFile} and ${made.signatureFile}\n`);
      if (!opts.submit) {
        process.stdout.write(`${made.statementFile}\n${made.signatureFile}\n`);
        return;
      }
      const result = await submitStatement({ log: opts.log!, vkey: opts.vkey!, statement: Buffer.from(made.statement).toString('utf8'), signature: made.signature, publicKey: await made.publicKey() }, 'attest');
      await saveAndReport(result, proofPathFor(made.statementFile), opts.json ?? false);
    });
}
