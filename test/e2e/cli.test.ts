/**
 * End to end, real processes: `lafs-log serve`, `lafs keygen`/`attest`/`bundle` and
 * `lafs-verify`, with three builders whose keys `lafs keygen` made and one whose key lives in a
 * real gpg home (signing through the system gpg). One server for the whole file.
 */
import test from 'ava';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run, type RunResult } from '../helpers/process.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { GpgHome } from '../helpers/gpg.js';
import { mirrorLog } from '../helpers/mirror.js';
import { generateKeyPair } from '../../merkle/note.js';
import { nodeEd25519 } from '../../attestation/node-crypto.js';

const work = tempDir('lafs-cli-e2e-');
let server: RunningServer;
let gpgHome: GpgHome;
const keys: Record<string, { dir: string; fingerprint: string }> = {};
let gpgFingerprint = '';
const trustAll = join(work, 'trust-all');
const trustStranger = join(work, 'trust-stranger');
const source = join(work, 'app-1.0-src.tar.gz');
const app = join(work, 'app-1.0-x86_64.tar.gz');
const armApp = join(work, 'arm', 'app-1.0-aarch64.tar.gz');
const armEvil = join(work, 'evil', 'app-1.0-aarch64.tar.gz');
const bundleFile = join(work, 'app.bundle.json');

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const freshConfig = () => ({ XDG_CONFIG_HOME: tempDir('lafs-xdg-') });

async function lafs(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run('lafs', args, { cwd: work, env: { ...freshConfig(), ...env } });
}
async function verify(args: string[], env: NodeJS.ProcessEnv = freshConfig()): Promise<RunResult> {
  return run('lafs-verify', args, { cwd: work, env });
}
function logArgs(): string[] {
  return ['--log', server.url, '--vkey', server.verifierKey];
}
function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: RunResult, code = 0): void {
  t.is(r.code, code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

test.before(async () => {
  server = await startServer();
  gpgHome = GpgHome.create();
  writeFileSync(source, randomBytes(5000));
  writeFileSync(app, randomBytes(300_000));
  mkdirSync(join(work, 'arm'));
  mkdirSync(join(work, 'evil'));
  writeFileSync(armApp, randomBytes(100_000));
  writeFileSync(armEvil, randomBytes(100_000));
  mkdirSync(trustAll);
  mkdirSync(trustStranger);

  const made = await Promise.all(['Alice', 'Bob', 'Carol', 'Stranger'].map(async (name) => {
    const dir = join(work, 'keys', name.toLowerCase());
    const r = await lafs(['keygen', '--name', `${name} Builder <${name.toLowerCase()}@example.org>`, '--out', dir]);
    if (r.code !== 0) throw new Error(`keygen ${name}: ${r.stderr}`);
    return { name, dir, fingerprint: r.stdout.trim() };
  }));
  for (const m of made) keys[m.name] = { dir: m.dir, fingerprint: m.fingerprint };
  for (const name of ['Alice', 'Bob', 'Carol']) copyFileSync(join(keys[name]!.dir, 'public-key.asc'), join(trustAll, `${name}.asc`));
  copyFileSync(join(keys.Stranger!.dir, 'public-key.asc'), join(trustStranger, 'stranger.asc'));
  gpgFingerprint = (await gpgHome.generateKey({ name: 'Dora Gpg', type: 'ed25519' })).toLowerCase();
  writeFileSync(join(trustAll, 'dora.asc'), await gpgHome.exportPublicKey(gpgFingerprint, true));

  // Everyone attests the same x86_64 build; for aarch64, Carol attests a different file under the same name.
  const attest = async (who: string, file: string, platform: string, out: string) => {
    const signer = who === 'Dora' ? ['--gpg', gpgFingerprint] : ['--key', join(keys[who]!.dir, 'private-key.asc')];
    const r = await lafs(['attest', '--source-archive', source, '--platform', platform, ...signer, '--out', join(work, out), '--submit', ...logArgs(), file], { GNUPGHOME: gpgHome.dir });
    if (r.code !== 0) throw new Error(`attest ${who} ${platform}: ${r.stderr}\n${r.stdout}`);
    return r;
  };
  // Concurrent submissions: the order in the log does not matter to any verdict.
  await Promise.all([
    ...['Alice', 'Bob', 'Carol', 'Dora'].map((who) => attest(who, app, 'x86_64-linux-gnu', `${who}-x86_64`)),
    ...['Alice', 'Bob', 'Dora'].map((who) => attest(who, armApp, 'aarch64-linux-gnu', `${who}-aarch64`)),
    attest('Carol', armEvil, 'aarch64-linux-gnu', 'Carol-aarch64'),
  ]);
});

test.after.always(async () => {
  await server?.stop();
});

test.serial('attest wrote a canonical statement, an armored signature and a tlog-proof receipt', (t) => {
  const statement = readFileSync(join(work, 'Alice-x86_64.statement'), 'utf8');
  t.is(statement, `lafs-attestation/v1\nsource sha256:${sha256(source)}\nplatform x86_64-linux-gnu\nartifact sha256:${sha256(app)} app-1.0-x86_64.tar.gz\n`);
  t.regex(readFileSync(join(work, 'Alice-x86_64.statement.asc'), 'utf8'), /^-----BEGIN PGP SIGNATURE-----/);
  t.regex(readFileSync(join(work, 'Dora-x86_64.statement.asc'), 'utf8'), /^-----BEGIN PGP SIGNATURE-----/);
  t.regex(readFileSync(join(work, 'Alice-x86_64.statement.tlog-proof'), 'utf8'), /^c2sp\.org\/tlog-proof@v1\nindex \d+\n/);
});

test.serial('keygen: fingerprint printed, private key 0600, public key gpg can import', async (t) => {
  const { statSync } = await import('node:fs');
  t.regex(keys.Alice!.fingerprint, /^[0-9a-f]{40}$/);
  t.is(statSync(join(keys.Alice!.dir, 'private-key.asc')).mode & 0o777, 0o600);
  const home = GpgHome.create();
  const fprs = await home.showKeyFingerprints(join(keys.Alice!.dir, 'public-key.asc'));
  t.deepEqual(fprs.map((f) => f.toLowerCase()), [keys.Alice!.fingerprint]);
  const again = await lafs(['keygen', '--name', 'Alice <a@example.org>', '--out', keys.Alice!.dir]);
  ok(t, again, 2);
  t.regex(again.stderr, /already exists.*--force/);
});

test.serial('four trusted builders (one via gpg) agree: passes with threshold 3 and names them', async (t) => {
  const r = await verify([app, ...logArgs(), '--trust', trustAll, '--threshold', '3']);
  ok(t, r, 0);
  t.regex(r.stdout, /^VERIFIED/);
  for (const who of ['Alice Builder', 'Bob Builder', 'Carol Builder', 'Dora Gpg']) t.true(r.stdout.includes(who), `${who} named`);
  t.true(r.stdout.includes(gpgFingerprint));
  t.regex(r.stdout, /log: +test\.example\/lafs-log, size 8, root [A-Za-z0-9+/]+=/);
  const json = JSON.parse((await verify(['--hash', `sha256:${sha256(app)}`, ...logArgs(), '--trust', trustAll, '--threshold', '4', '--json'])).stdout);
  t.is(json.status, 'verified');
  t.is(json.agree.length, 4);
  t.is(json.log.size, 8);
});

test.serial('$LAFS_LOG and $LAFS_VKEY stand in for --log and --vkey; an option given wins', async (t) => {
  const fromEnv = { LAFS_LOG: server.url, LAFS_VKEY: server.verifierKey };
  const r = await verify([app, '--trust', trustAll, '--threshold', '3'], { ...freshConfig(), ...fromEnv });
  ok(t, r, 0);
  t.regex(r.stdout, /^VERIFIED/);
  const get = await lafs(['get', '--index', '0', '--json'], fromEnv);
  ok(t, get, 0);
  t.is(JSON.parse(get.stdout).index, 0);
  // The command line wins: another log's key given as --vkey fails the log's checkpoint.
  const impostor = generateKeyPair(server.origin, nodeEd25519).verifierKey;
  const wrong = await verify([app, '--vkey', impostor, '--trust', trustAll, '--json'], { ...freshConfig(), ...fromEnv });
  ok(t, wrong, 5);
  t.is(JSON.parse(wrong.stdout).status, 'log-failure');
  // A value from the environment is checked like the option's.
  const bad = await verify([app, '--trust', trustAll], { ...freshConfig(), ...fromEnv, LAFS_LOG: 'ftp://x' });
  ok(t, bad, 2);
  t.regex(bad.stderr, /--log.*LAFS_LOG.*http/);
});

test.serial('threshold above the number of agreeing trusted builders: exit 3', async (t) => {
  const r = await verify([app, ...logArgs(), '--trust', trustAll, '--threshold', '5']);
  ok(t, r, 3);
  t.regex(r.stdout, /not enough trusted builders/);
});

test.serial('only untrusted builders attest: exit 3', async (t) => {
  const r = await verify([app, ...logArgs(), '--trust', trustStranger, '--threshold', '1', '--json']);
  ok(t, r, 3);
  const json = JSON.parse(r.stdout);
  t.is(json.status, 'not-enough');
  t.deepEqual(json.agree, []);
  t.true(json.warnings.some((w: string) => w.includes('only untrusted builders')));
});

test.serial('one trusted builder attests a different hash for the same name: exit 4, who disagrees is named', async (t) => {
  const trustNoCarol = tempDir('lafs-trust-');
  for (const f of ['Alice.asc', 'Bob.asc', 'dora.asc']) copyFileSync(join(trustAll, f), join(trustNoCarol, f));
  const [r, unreachable, carols, r2] = await Promise.all([
    verify([armApp, ...logArgs(), '--trust', trustAll, '--threshold', '3']),
    // Disagreement wins over "not enough" even with an unreachable threshold.
    verify([armApp, ...logArgs(), '--trust', trustAll, '--threshold', '9']),
    // Carol's own file: she is alone, and three trusted builders disagree with her.
    verify([armEvil, ...logArgs(), '--trust', trustAll, '--threshold', '1']),
    // Without Carol in the trust set her disagreement is only a warning.
    verify([armApp, ...logArgs(), '--trust', trustNoCarol, '--threshold', '3']),
  ]);
  ok(t, r, 4);
  t.regex(r.stdout, /trusted builders disagree/);
  t.regex(r.stdout, new RegExp(`disagree: +Carol Builder <carol@example.org> ${keys.Carol!.fingerprint} attests sha256:${sha256(armEvil)}`));
  ok(t, unreachable, 4);
  ok(t, carols, 4);
  ok(t, r2, 0);
  t.regex(r2.stdout, /warning: untrusted builder/);
});

test.serial('a checkpoint signed by another key than --vkey: exit 5', async (t) => {
  const impostor = generateKeyPair(server.origin, nodeEd25519).verifierKey;
  const r = await verify([app, '--log', server.url, '--vkey', impostor, '--trust', trustAll, '--json']);
  ok(t, r, 5);
  t.is(JSON.parse(r.stdout).status, 'log-failure');
});

test.serial('the verifier remembers the checkpoint and proves consistency on the next run', async (t) => {
  const env = freshConfig();
  const first = await verify([app, ...logArgs(), '--trust', trustAll, '--threshold', '3', '--json'], env);
  ok(t, first, 0);
  t.is(JSON.parse(first.stdout).log.consistency, 'first-use');
  const same = await verify([app, ...logArgs(), '--trust', trustAll, '--threshold', '3', '--json'], env);
  t.is(JSON.parse(same.stdout).log.consistency, 'same');
  const r = await lafs(['attest', '--source', `sha256:${'1'.repeat(64)}`, '--platform', 'win64', '--key', join(keys.Bob!.dir, 'private-key.asc'), '--out', join(work, 'extra'), '--submit', ...logArgs(), source]);
  ok(t, r, 0);
  const grown = await verify([app, ...logArgs(), '--trust', trustAll, '--threshold', '3', '--json'], env);
  ok(t, grown, 0);
  t.like(JSON.parse(grown.stdout).log, { consistency: 'extends', rememberedSize: 8, size: 9 });
});

test.serial('lafs get, proof and submit (idempotent) against the live log', async (t) => {
  const get = await lafs(['get', ...logArgs(), '--index', '0', '--json']);
  ok(t, get, 0);
  const fingerprints = [keys.Alice!.fingerprint, keys.Bob!.fingerprint, keys.Carol!.fingerprint, gpgFingerprint];
  t.true(fingerprints.includes(JSON.parse(get.stdout).signature.builder));
  const proof = await lafs(['proof', ...logArgs(), '--index', '2']);
  ok(t, proof, 0);
  t.regex(proof.stdout, /^c2sp\.org\/tlog-proof@v1\nindex 2\n/);
  const old = await lafs(['proof', ...logArgs(), '--index', '2', '--size', '4']);
  ok(t, old, 0);
  t.like(JSON.parse(old.stdout), { index: 2, size: 4 });
  const again = await lafs(['submit', ...logArgs(), '--statement', join(work, 'Alice-x86_64.statement'), '--signature', join(work, 'Alice-x86_64.statement.asc'), '--public-key', join(keys.Alice!.dir, 'public-key.asc'), '--proof-out', join(work, 'again.tlog-proof')]);
  ok(t, again, 0);
  const receiptIndex = /^index (\d+)$/m.exec(readFileSync(join(work, 'Alice-x86_64.statement.tlog-proof'), 'utf8'))![1];
  t.regex(again.stdout, new RegExp(`^index ${receiptIndex}\nleaf-hash [A-Za-z0-9+/]{43}=\nbuilder ${keys.Alice!.fingerprint}\nalready logged`));
  ok(t, await lafs(['get', ...logArgs(), '--index', '999']), 2);
  // The receipt cannot be written: the entry is logged anyway, the result is printed, and the error says how to get the receipt.
  const unsaved = await lafs(['submit', ...logArgs(), '--statement', join(work, 'Alice-x86_64.statement'), '--signature', join(work, 'Alice-x86_64.statement.asc'), '--public-key', join(keys.Alice!.dir, 'public-key.asc'), '--proof-out', join(work, 'no-such-dir', 'r.tlog-proof')]);
  ok(t, unsaved, 2);
  t.regex(unsaved.stdout, new RegExp(`^index ${receiptIndex}\n`));
  t.regex(unsaved.stderr, new RegExp(`logged as index ${receiptIndex}, but the receipt could not be saved to .*no-such-dir.*lafs proof --index ${receiptIndex}`));
});

test.serial('against a static tile mirror: get, proof and proof --size work from tiles; lafs-verify scans and gives the verdict the server gives', async (t) => {
  // Before: lafs-verify needed the lookup API and exited 2 on a mirror; that assertion encoded the missing scan.
  const mirror = await mirrorLog(server.url);
  try {
    const args = ['--log', mirror.url, '--vkey', server.verifierKey];
    const get = await lafs(['get', ...args, '--index', '1', '--json']);
    ok(t, get, 0);
    t.is(JSON.parse(get.stdout).index, 1);
    const proof = await lafs(['proof', ...args, '--index', '1']);
    ok(t, proof, 0);
    t.regex(proof.stdout, /^c2sp\.org\/tlog-proof@v1\nindex 1\n/);
    // proof --size from verified tiles, identical to the server's answer.
    const [fromMirror, fromServer] = await Promise.all([lafs(['proof', ...args, '--index', '2', '--size', '5']), lafs(['proof', ...logArgs(), '--index', '2', '--size', '5'])]);
    ok(t, fromMirror, 0);
    ok(t, fromServer, 0);
    t.deepEqual(JSON.parse(fromMirror.stdout), JSON.parse(fromServer.stdout));
    t.like(JSON.parse(fromMirror.stdout), { index: 2, size: 5 });
    // Without --vkey a mirror cannot tell its key: exit 2 saying what to pass.
    const unpinned = await lafs(['get', '--log', mirror.url, '--index', '1']);
    ok(t, unpinned, 2);
    t.regex(unpinned.stderr, /static tile mirror\?\), so it cannot tell its verifier key; pass the key/);

    const trustNoCarol = tempDir('lafs-trust-');
    for (const f of ['Alice.asc', 'Bob.asc', 'dora.asc']) copyFileSync(join(trustAll, f), join(trustNoCarol, f));
    const cases: [string, string[], number][] = [
      ['four agree', [app, '--trust', trustAll, '--threshold', '3'], 0],
      ['Carol disagrees', [armApp, '--trust', trustAll, '--threshold', '3'], 4],
      ['Carol untrusted', [armApp, '--trust', trustNoCarol, '--threshold', '3'], 0],
      ['only strangers', [app, '--trust', trustStranger, '--threshold', '1'], 3],
      ['threshold too high', ['--hash', `sha256:${sha256(app)}`, '--trust', trustAll, '--threshold', '5'], 3],
    ];
    for (const [name, rest, code] of cases) {
      const [viaMirror, viaServer, viaScan] = await Promise.all([
        verify([...rest, ...args, '--json']),
        verify([...rest, ...logArgs(), '--json']),
        verify([...rest, ...logArgs(), '--scan', '--json']),
      ]);
      ok(t, viaMirror, code);
      ok(t, viaServer, code);
      ok(t, viaScan, code);
      const [m, sv, sc] = [viaMirror, viaServer, viaScan].map((r) => JSON.parse(r.stdout));
      t.is(m.log.search, 'scan', name);
      t.is(sv.log.search, 'lookup', name);
      t.is(sc.log.search, 'scan', name);
      for (const x of [m, sv, sc]) delete x.log;
      t.deepEqual(m, sv, `${name}: mirror and server give the same verdict`);
      t.deepEqual(sc, sv, `${name}: --scan and lookup give the same verdict`);
    }
    const text = await verify([app, ...args, '--trust', trustAll, '--threshold', '3']);
    ok(t, text, 0);
    t.regex(text.stdout, /log: .*; every entry read \(scan\)/);
    // lafs bundle works on the mirror too (scan), and the bundle verifies offline.
    const mirrorBundle = join(work, 'mirror.bundle.json');
    ok(t, await lafs(['bundle', ...args, '--hash', `sha256:${sha256(app)}`, '-o', mirrorBundle]), 0);
    ok(t, await verify([app, '--bundle', mirrorBundle, '--vkey', server.verifierKey, '--trust', trustAll, '--threshold', '4']), 0);
  } finally {
    await mirror.close();
  }
});

test.serial('bundle, then offline verification with the server stopped; any flipped byte of proof, entry or checkpoint: exit 5', async (t) => {
  ok(t, await lafs(['bundle', ...logArgs(), '--hash', `sha256:${sha256(app)}`, '-o', bundleFile]), 0);
  const armBundle = join(work, 'arm.bundle.json');
  ok(t, await lafs(['bundle', ...logArgs(), '--source', `sha256:${sha256(source)}`, '--platform', 'aarch64-linux-gnu', '--name', 'app-1.0-aarch64.tar.gz', '-o', armBundle]), 0);
  await server.stop();

  const offline = (file: string, bundle: string, extra: string[] = []) => verify([file, '--bundle', bundle, '--vkey', server.verifierKey, '--trust', trustAll, ...extra]);
  const passed = await offline(app, bundleFile, ['--threshold', '4']);
  ok(t, passed, 0);
  t.regex(passed.stdout, /^VERIFIED/);
  ok(t, await offline(armApp, armBundle, ['--threshold', '3']), 4);
  // --log (and --scan) with --bundle: ignored, with a warning; the stopped server is never asked.
  const withLog = await offline(app, bundleFile, ['--threshold', '4', '--log', server.url, '--scan', '--json']);
  ok(t, withLog, 0);
  const warned = JSON.parse(withLog.stdout).warnings as string[];
  t.true(warned.includes(`--log ${server.url} is ignored with --bundle: verified offline, from the bundle only`), warned.join('\n'));
  t.true(warned.some((w) => w.startsWith('--scan is ignored with --bundle')));

  const original = JSON.parse(readFileSync(bundleFile, 'utf8'));
  t.is(original.entries.length, 4);
  const flipBase64 = (b64: string, at: number) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes[at % bytes.length]! ^= 0x01;
    return bytes.toString('base64');
  };
  const variants: Record<string, (b: any) => void> = {
    'leaf byte': (b) => { b.entries[1].leaf = flipBase64(b.entries[1].leaf, 40); },
    'last leaf byte': (b) => { b.entries[0].leaf = flipBase64(b.entries[0].leaf, -1 >>> 0); },
    'proof hash byte': (b) => {
      const lines = b.entries[2].proof.split('\n');
      lines[2] = flipBase64(lines[2], 7);
      b.entries[2].proof = lines.join('\n');
    },
    'proof index': (b) => { b.entries[3].proof = b.entries[3].proof.replace(/^index (\d+)/m, (_: string, n: string) => `index ${Number(n) ^ 1}`); b.entries[3].index ^= 1; },
    'checkpoint root byte': (b) => {
      const lines = b.checkpoint.split('\n');
      lines[2] = flipBase64(lines[2], 0);
      const tampered = lines.join('\n');
      for (const e of b.entries) e.proof = e.proof.replace(b.checkpoint, tampered);
      b.checkpoint = tampered;
    },
    'checkpoint signature byte': (b) => {
      const m = /— (\S+) (\S+)\n$/.exec(b.checkpoint)!;
      const tampered = b.checkpoint.replace(m[2], flipBase64(m[2]!, 20));
      for (const e of b.entries) e.proof = e.proof.replace(b.checkpoint, tampered);
      b.checkpoint = tampered;
    },
    'tlog-proof carries another checkpoint': (b) => { b.entries[0].proof = b.entries[0].proof.replace(/\n(\d+)\n/, (_: string, n: string) => `\n${Number(n) + 1}\n`); },
  };
  await Promise.all(Object.entries(variants).map(async ([name, mutate]) => {
    const copy = JSON.parse(JSON.stringify(original));
    mutate(copy);
    t.notDeepEqual(copy, original, `${name} changed something`);
    const file = join(work, `flipped-${name.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(copy));
    const r = await offline(app, file, ['--threshold', '1', '--json']);
    t.is(r.code, 5, `${name}: ${r.stdout}${r.stderr}`);
    t.is(JSON.parse(r.stdout).status, 'log-failure', name);
  }));
  // Raw bytes of the file flipped in the middle of the leaf of entry 0: exit 5 as well.
  const text = readFileSync(bundleFile, 'utf8');
  const leafAt = text.indexOf(original.entries[0].leaf) + 100;
  const raw = text.slice(0, leafAt) + (text[leafAt] === 'A' ? 'B' : 'A') + text.slice(leafAt + 1);
  writeFileSync(join(work, 'raw.json'), raw);
  ok(t, await offline(app, join(work, 'raw.json'), ['--threshold', '1']), 5);
  // Not a bundle at all, or a missing file: exit 5 (malformed) and 2 (I/O).
  writeFileSync(join(work, 'not-json'), 'hello');
  ok(t, await offline(app, join(work, 'not-json')), 5);
  ok(t, await offline(app, join(work, 'missing.json')), 2);
  // The log is gone: online verification is an I/O error (2), not a verdict.
  ok(t, await verify([app, '--log', server.url, '--vkey', server.verifierKey, '--trust', trustAll]), 2);
});
