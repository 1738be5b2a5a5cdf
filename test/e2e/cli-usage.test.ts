/**
 * Every program and subcommand answers --help with examples (exit 0), and bad arguments exit 2
 * with one line that names what is wrong. Real processes, no server needed.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type Program } from '../helpers/process.js';
import { fixturesDir, tempDir } from '../helpers/tmp.js';

const dir = tempDir('lafs-usage-');
const file = join(dir, 'file.bin');
writeFileSync(file, 'x');
const keys = join(fixturesDir, 'guix-sigs', 'builder-keys');
const VKEY = 'test.example/lafs-log+eb4997ac+AX8GnZFwOnDktGePb5kbjpTIRVkRfdyqxyh1mRmMbNev';
const env = { XDG_CONFIG_HOME: tempDir('lafs-xdg-') };

const helps: [Program, string[]][] = [
  ['lafs', ['--help']],
  ...['keygen', 'attest', 'submit', 'import-sums', 'get', 'proof', 'bundle'].map((c): [Program, string[]] => ['lafs', [c, '--help']]),
  ['lafs', ['help', 'attest']],
  ['lafs-verify', ['--help']],
];

for (const [program, args] of helps) {
  test(`${program} ${args.join(' ')} prints usage with examples, exit 0`, async (t) => {
    const r = await run(program, args, { env });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^Usage: /);
    t.regex(r.stdout, /\nExamples:\n {2}\S/);
    t.is(r.stderr, '');
  });
}

test('lafs-verify --help documents every exit code', async (t) => {
  const r = await run('lafs-verify', ['--help'], { env });
  for (const code of ['0  verified', '2  usage or I/O error', '3  not enough trusted builders', '4  trusted builders disagree', '5  the log or a proof failed verification']) t.true(r.stdout.includes(code), code);
});

test('--version prints the version, exit 0', async (t) => {
  for (const program of ['lafs', 'lafs-verify'] as const) {
    const r = await run(program, ['--version'], { env });
    t.is(r.code, 0);
    t.regex(r.stdout, /^\d+\.\d+\.\d+\n$/);
  }
});

/** [program, args, a pattern the one-line reason must match] */
const bad: [Program, string[], RegExp][] = [
  ['lafs', [], /Usage: lafs|command/],
  ['lafs', ['bogus'], /unknown command 'bogus'/],
  ['lafs', ['keygen', '--out', dir], /required option '--name/],
  ['lafs', ['keygen', '--name', 'A <a@example.org>', '--out', dir, '--rsa', 'big'], /--rsa.*integer/],
  ['lafs', ['keygen', '--name', 'A <broken', '--out', dir], /--name must look like "Name <email@example.org>"/],
  ['lafs', ['attest', '--platform', 'x86_64-linux-gnu', '--key', 'k', file], /exactly one of --source DIGEST or --source-archive FILE/],
  ['lafs', ['attest', '--source', 'sha256:xyz', '--platform', 'x86_64-linux-gnu', '--key', 'k', file], /--source must be sha256:<64 lowercase hex>/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--platform', 'bad platform', '--key', 'k', file], /--platform must be 1-64 characters/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--source-archive', file, '--platform', 'p', '--key', 'k', file], /--source.*cannot be used with.*--source-archive/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--platform', 'p', file], /exactly one of --key PRIVKEY.*or --gpg KEYID/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--platform', 'p', '--key', join(dir, 'nokey.asc'), file], /no such file or directory: .*nokey\.asc/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--platform', 'p', '--key', file, file], /--key .*file\.bin is not an armored OpenPGP private key/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--platform', 'p', '--key', 'k', '--submit', file], /--submit needs --log URL and --vkey KEY/],
  ['lafs', ['submit', '--statement', file, '--signature', file], /required option '--public-key/],
  ['lafs', ['submit', '--log', 'ftp://x', '--statement', file, '--signature', file, '--public-key', file], /--log.*http/],
  ['lafs', ['submit', '--statement', file, '--signature', file, '--public-key', file], /--log URL \(or \$LAFS_LOG\) is required/],
  // --vkey stays required for what builders keep (receipts, bundles), and the reason says how to get it.
  ['lafs', ['submit', '--log', 'http://127.0.0.1:9', '--statement', file, '--signature', file, '--public-key', file], /^lafs: error: submit: --vkey KEY \(or \$LAFS_VKEY\) is required: .*`lafs-log key --data DIR`.*GET http:\/\/127\.0\.0\.1:9\/v1\/log\n$/],
  ['lafs', ['import-sums', '--log', 'http://127.0.0.1:9', '--sums', file, '--signature', file, '--public-key', file, '--source', 'git:00', '--platform', 'p'], /^lafs: error: import-sums: --vkey KEY \(or \$LAFS_VKEY\) is required: .*`lafs-log key --data DIR`.*GET http:\/\/127\.0\.0\.1:9\/v1\/log\n$/],
  ['lafs', ['attest', '--source', `git:${'0'.repeat(40)}`, '--platform', 'p', '--key', 'k', '--submit', '--log', 'http://127.0.0.1:9', file], /^lafs: error: --submit needs --log URL and --vkey KEY \(or \$LAFS_LOG and \$LAFS_VKEY\): .*`lafs-log key --data DIR`.*GET http:\/\/127\.0\.0\.1:9\/v1\/log\n$/],
  ['lafs', ['import-sums', '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--sums', file, '--signature', file, '--public-key', file, '--source', 'git:00', '--platform-regex', '('], /--platform-regex is not a valid regular expression/],
  ['lafs', ['import-sums', '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--sums', file, '--signature', file, '--public-key', file, '--source', 'git:00', '--platform-regex', '^x'], /named group \(\?<platform>/],
  ['lafs', ['import-sums', '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--sums', file, '--signature', file, '--public-key', file, '--source', 'git:00'], /exactly one of --platform P or --platform-regex RE/],
  ['lafs', ['get', '--log', 'http://127.0.0.1:9', '--index', '-1'], /--index/],
  ['lafs', ['proof', '--log', 'http://127.0.0.1:9', '--index', 'x'], /--index.*integer/],
  ['lafs', ['bundle', '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '-o', join(dir, 'b.json')], /give --hash sha256:HEX, or --source D --name N/],
  ['lafs', ['bundle', '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--hash', 'sha256:12', '-o', join(dir, 'b.json')], /--hash must be sha256:<64 hex digits>/],
  ['lafs-verify', ['--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys], /exactly one of FILE or --hash/],
  ['lafs-verify', [file, '--hash', `sha256:${'0'.repeat(64)}`, '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys], /exactly one of FILE or --hash/],
  ['lafs-verify', ['--hash', 'sha256:zz', '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys], /--hash must be sha256:<64 hex digits>/],
  ['lafs-verify', [file, '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys, '--threshold', '0'], /--threshold.*integer >= 1/],
  ['lafs-verify', [file, '--log', 'http://127.0.0.1:9', '--vkey', VKEY], /required option '--trust/],
  ['lafs-verify', [file, '--vkey', VKEY, '--trust', keys], /give --log URL or \$LAFS_LOG \(or --bundle FILE/],
  ['lafs-verify', [file, '--log', 'http://127.0.0.1:9', '--vkey', 'not-a-key', '--trust', keys], /--vkey is not a note verifier key/],
  ['lafs-verify', [file, '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', join(dir, 'nothing')], /--trust .*nothing: no such file or directory/],
  ['lafs-verify', [join(dir, 'missing.tar.gz'), '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys], /no such file or directory: .*missing\.tar\.gz/],
  ['lafs-verify', [file, '--bundle', join(dir, 'missing.json'), '--vkey', VKEY, '--trust', keys], /--bundle .*missing\.json: no such file/],
  ['lafs-verify', [file, '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys, '--frobnicate'], /unknown option '--frobnicate'/],
  // Near misses: commander's "(Did you mean ...?)" suggestion stays on the reason's line.
  ['lafs-verify', [file, '--log', 'http://127.0.0.1:9', '--vkey', VKEY, '--trust', keys, '--treshold', '3'], /unknown option '--treshold' \(Did you mean --threshold\?\)\n$/],
  ['lafs', ['keygen', '--name', 'A <a@example.org>', '--out', join(dir, 'k'), '--froce'], /unknown option '--froce' \(Did you mean --force\?\)\n$/],
  ['lafs', ['attset'], /unknown command 'attset' \(Did you mean attest\?\)\n$/],
];

for (const [program, args, reason] of bad) {
  test(`${program} ${args.join(' ').replaceAll(dir, 'DIR').replaceAll(keys, 'KEYS').replaceAll(VKEY, 'VKEY')} -> exit 2, one line`, async (t) => {
    const r = await run(program, args, { env, cwd: dir });
    t.is(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    t.regex(r.stderr, reason);
    if (args.length > 0) {
      t.is(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
      t.regex(r.stderr, new RegExp(`^${program}: `));
    }
  });
}
