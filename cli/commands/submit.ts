/**
 * `lafs submit`: sends a signed statement to the log (POST /v1/entries through LogClient, which
 * verifies the returned checkpoint and inclusion proof), prints the entry's index and leaf hash,
 * and saves the inclusion proof as a C2SP tlog-proof next to the statement so the builder holds
 * an offline receipt.
 */
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import type { SubmitResult } from '../../client/log-client.js';
import { formatTlogProof } from '../../merkle/tlog-proof.js';
import { STATEMENT_KIND } from '../../attestation/statement.js';
import { LafsError } from '../../merkle/errors.js';
import { toBase64 } from '../encoding.js';
import { describeError } from '../errors.js';
import { openLog, type LogOptions } from '../log.js';
import { examples, logOption, vkeyOption } from '../program.js';

/** Where the receipt of a submitted file goes. */
export function proofPathFor(file: string): string {
  return `${file}.tlog-proof`;
}

/** Writes the C2SP tlog-proof of a submission. */
export async function saveReceipt(result: SubmitResult, path: string): Promise<void> {
  await writeFile(path, formatTlogProof({ index: result.index, proof: result.inclusionProof, checkpoint: result.checkpoint.note }));
}

/**
 * Saves the receipt, then reports. The entry is logged whatever happens to the file: if it cannot
 * be written the result is still printed (without a proof path) before the error, which says how
 * to get the receipt again.
 */
export async function saveAndReport(result: SubmitResult, proofFile: string, json: boolean): Promise<void> {
  try {
    await saveReceipt(result, proofFile);
  } catch (error) {
    reportSubmission(result, null, json);
    throw new LafsError('io', `logged as index ${result.index}, but the receipt could not be saved to ${proofFile} (${describeError(error)}); get it with \`lafs proof --index ${result.index}\``, { cause: error });
  }
  reportSubmission(result, proofFile, json);
}

export function reportSubmission(result: SubmitResult, proofFile: string | null, json: boolean): void {
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  if (json) {
    process.stdout.write(JSON.stringify({ index: result.index, leafHash: toBase64(result.leafHash), builder: result.builder, created: result.created, warnings: result.warnings, treeSize: result.checkpoint.checkpoint.size, proofFile }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`index ${result.index}\nleaf-hash ${toBase64(result.leafHash)}\nbuilder ${result.builder}\n${result.created ? 'logged' : 'already logged'} in tree of size ${result.checkpoint.checkpoint.size}\n`);
  if (proofFile) process.stdout.write(`proof ${proofFile}\n`);
}

interface SubmitOptions extends LogOptions { statement: string; signature: string; publicKey: string; proofOut?: string; json?: boolean }

export async function submitStatement(options: LogOptions & { statement: string; signature: string; publicKey: string }, command: string): Promise<SubmitResult> {
  const client = openLog(options, command);
  return client.submit({ kind: STATEMENT_KIND, statement: options.statement, signature: options.signature, publicKey: options.publicKey });
}

/** Armored text stays text; a binary signature or key goes as base64 (docs/http-api.md). */
export async function readArmoredOrBinary(path: string): Promise<string> {
  const bytes = await readFile(path);
  const text = bytes.toString('utf8');
  return text.includes('-----BEGIN PGP') ? text : toBase64(new Uint8Array(bytes));
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .summary('submit a signed statement to the log')
    .description(`Submits a statement (lafs-attestation/v1) and its detached OpenPGP signature to the log.
Prints the entry index and leaf hash, and saves the inclusion proof (C2SP tlog-proof) as
STATEMENT.tlog-proof. Submitting the same thing twice returns the existing entry.`)
    .addOption(logOption('log server URL'))
    .addOption(vkeyOption("the log's verifier key (name+hex+base64; required: `lafs-log key` on the log's host prints it)"))
    .requiredOption('--statement <file>', 'statement file (from `lafs attest`)')
    .requiredOption('--signature <file>', 'detached signature over the statement, armored or binary')
    .requiredOption('--public-key <file>', "signer's public key, armored or binary")
    .option('--proof-out <file>', 'where to save the inclusion proof (default: STATEMENT.tlog-proof)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples([
      'lafs submit --log https://log.example.org --vkey "$LAFS_VKEY" \\',
      '    --statement app-x86_64-linux.statement --signature app-x86_64-linux.statement.asc \\',
      '    --public-key ~/.lafs/alice/public-key.asc',
    ]))
    .action(async (opts: SubmitOptions) => {
      const statement = await readFile(opts.statement, 'utf8');
      const signature = await readArmoredOrBinary(opts.signature);
      const publicKey = await readArmoredOrBinary(opts.publicKey);
      const result = await submitStatement({ ...opts, statement, signature, publicKey }, 'submit');
      await saveAndReport(result, opts.proofOut ?? proofPathFor(opts.statement), opts.json ?? false);
    });
}
