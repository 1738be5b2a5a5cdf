#!/usr/bin/env node
/**
 * `lafs`: the builder's side of the build transparency log (DESIGN.md section 4). One file per
 * subcommand under cli/commands/; this file only assembles them into one commander program.
 */
import { registerAttest } from './commands/attest.js';
import { registerBundle } from './commands/bundle.js';
import { registerGet } from './commands/get.js';
import { registerImportSums } from './commands/import-sums.js';
import { registerKeygen } from './commands/keygen.js';
import { registerProof } from './commands/proof.js';
import { registerSubmit } from './commands/submit.js';
import { packageVersion } from './log.js';
import { examples, makeProgram, runProgram } from './program.js';

const program = makeProgram('lafs', 'Builder tools for the LAFS build transparency log: keys, signed build attestations, submissions, proofs.', packageVersion())
  .addHelpText('after', `
Exit codes: 0 success; 2 usage or I/O error (the message names the option or file);
5 what the log returned failed verification. Run \`lafs COMMAND --help\` for examples.
${examples([
    'lafs keygen --name "Alice Builder <alice@example.org>" --out ~/.lafs/alice',
    'lafs attest --source-archive app-1.0.tar.gz --platform x86_64-linux-gnu --key ~/.lafs/alice/private-key.asc \\',
    '    --submit --log https://log.example.org --vkey "$LAFS_VKEY" dist/app-1.0-x86_64.tar.gz',
    'lafs bundle --log https://log.example.org --vkey "$LAFS_VKEY" --hash sha256:<hex> -o app.lafs-bundle.json',
  ])}`);

registerKeygen(program);
registerAttest(program);
registerSubmit(program);
registerImportSums(program);
registerGet(program);
registerProof(program);
registerBundle(program);

await runProgram(program);
