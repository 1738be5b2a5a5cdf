/**
 * `lafs-verify` speed (issue 4 benchmark). Prints one JSON object:
 *  - the wall time of `lafs-verify FILE` on a 1 GiB file against a local `lafs-log serve`, beside
 *    `sha256sum` of the same file in the same run (alternating, page cache warm): the target is
 *    hashing-bound, within 1.2x of sha256sum;
 *  - verifying an offline bundle of 10 entries: in-process (`verifyBundle`) and as a whole
 *    `lafs-verify --bundle` process;
 *  - the machine's limit in the same run: raw node:crypto SHA-256 throughput over memory.
 * LAFS_BENCH_VERIFY_MIB overrides the file size (MiB) for quick runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { nodeEd25519 } from '../attestation/node-crypto.js';
import { parseVerifierKey } from '../merkle/note.js';
import { parseBundle, verifyBundle } from '../cli/proof-bundle.js';
import { startServer } from '../test/helpers/server.js';
import { programs } from '../test/helpers/process.js';
import { tempDir } from '../test/helpers/tmp.js';
import { attestationBody, makeBuilder } from '../test/helpers/submissions.js';

const MiB = 1024 * 1024;
const fileMiB = Number(process.env.LAFS_BENCH_VERIFY_MIB ?? 1024);
const ROUNDS = 3;
const BUNDLE_ENTRIES = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; status: number | null; stdout: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 16 * MiB });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0 && !(command === process.execPath && r.status !== null)) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, status: r.status, stdout: r.stdout };
}

/** Raw node:crypto SHA-256 over memory, MiB/s: the ceiling for hashing on this machine right now. */
function rawSha256MiBps(): number {
  const buffer = randomBytes(64 * MiB);
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    createHash('sha256').update(buffer).update(buffer).digest();
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.max(best, 128 / s);
  }
  return best;
}

async function main(): Promise<void> {
  const dir = tempDir('lafs-verify-bench-');
  const file = join(dir, 'big.bin');
  const chunk = randomBytes(16 * MiB);
  const fd = openSync(file, 'w');
  for (let written = 0; written < fileMiB; written += 16) {
    chunk[0] = written & 0xff; // distinct chunks, not that it matters to SHA-256
    writeSync(fd, chunk, 0, Math.min(16, fileMiB - written) * MiB);
  }
  closeSync(fd);
  const rawBefore = rawSha256MiBps();
  const sha256 = execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64); // also warms the page cache

  const server = await startServer();
  try {
    // Ten builders attest the big file; all are trusted.
    const builders = await Promise.all(Array.from({ length: BUNDLE_ENTRIES }, (_, i) => makeBuilder(`Bench Builder ${i}`, `b${i}@bench.example.org`)));
    const trustDir = join(dir, 'trust');
    execFileSync('mkdir', ['-p', trustDir]);
    const source = `sha256:${'5'.repeat(64)}`;
    for (const [i, b] of builders.entries()) {
      writeFileSync(join(trustDir, `b${i}.asc`), b.armoredPublicKey);
      const body = await attestationBody(b, { source, platform: 'x86_64-linux-gnu', artifacts: [{ name: 'big.bin', sha256 }] }, { armor: true });
      const response = await fetch(`${server.url}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (response.status !== 201) throw new Error(`submit: ${response.status} ${await response.text()}`);
    }
    const env = { ...process.env, XDG_CONFIG_HOME: tempDir('lafs-xdg-') };
    const verifyArgs = [programs['lafs-verify'], file, '--log', server.url, '--vkey', server.verifierKey, '--trust', trustDir, '--threshold', String(BUNDLE_ENTRIES)];

    const sums: number[] = [];
    const verifies: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      sums.push(timed('sha256sum', [file]).ms);
      const v = timed(process.execPath, verifyArgs, env);
      if (v.status !== 0) throw new Error(`lafs-verify exited ${v.status}: ${v.stdout}`);
      verifies.push(v.ms);
    }
    // What a run costs without the hashing: same command on --hash.
    const overheadRuns = Array.from({ length: ROUNDS }, () => timed(process.execPath, [programs['lafs-verify'], '--hash', `sha256:${sha256}`, ...verifyArgs.slice(2)], env).ms);

    // Offline: a bundle of ten entries.
    const bundleFile = join(dir, 'big.bundle.json');
    timed(process.execPath, [programs.lafs, 'bundle', '--log', server.url, '--vkey', server.verifierKey, '--hash', `sha256:${sha256}`, '-o', bundleFile]);
    const bundle = parseBundle(readFileSync(bundleFile, 'utf8'));
    if (bundle.entries.length !== BUNDLE_ENTRIES) throw new Error(`bundle has ${bundle.entries.length} entries`);
    const verifier = parseVerifierKey(server.verifierKey, nodeEd25519);
    const inProcess: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = process.hrtime.bigint();
      const checked = await verifyBundle(parseBundle(readFileSync(bundleFile, 'utf8')), verifier);
      inProcess.push(Number(process.hrtime.bigint() - start) / 1e6);
      if (!checked.ok) throw new Error(checked.reason);
    }
    const offlineArgs = [programs['lafs-verify'], '--hash', `sha256:${sha256}`, '--bundle', bundleFile, '--vkey', server.verifierKey, '--trust', trustDir, '--threshold', String(BUNDLE_ENTRIES)];
    const offline = Array.from({ length: ROUNDS }, () => {
      const r = timed(process.execPath, offlineArgs, env);
      if (r.status !== 0) throw new Error(`offline lafs-verify exited ${r.status}`);
      return r.ms;
    });
    const helpOnly = Array.from({ length: ROUNDS }, () => timed(process.execPath, [programs['lafs-verify'], '--help']).ms);
    const rawAfter = rawSha256MiBps();

    const result = {
      bench: 'verify',
      fileMiB,
      rounds: ROUNDS,
      machine: { rawSha256MiBps: { before: Math.round(rawBefore), after: Math.round(rawAfter) }, loadavg1: Number(execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ')[0]) },
      sha256sum: { medianMs: Math.round(median(sums)), runsMs: sums.map(Math.round), MiBps: Math.round(fileMiB / (median(sums) / 1000)) },
      lafsVerifyFile: { medianMs: Math.round(median(verifies)), runsMs: verifies.map(Math.round), MiBps: Math.round(fileMiB / (median(verifies) / 1000)) },
      ratioToSha256sum: { median: Number((median(verifies) / median(sums)).toFixed(3)), best: Number((Math.min(...verifies) / Math.min(...sums)).toFixed(3)), target: 1.2 },
      lafsVerifyHashOnlyMs: { median: Math.round(median(overheadRuns)), runs: overheadRuns.map(Math.round) },
      bundle10: {
        entries: BUNDLE_ENTRIES,
        bytes: readFileSync(bundleFile).length,
        verifyInProcessMs: { median: Number(median(inProcess).toFixed(2)), min: Number(Math.min(...inProcess).toFixed(2)) },
        lafsVerifyProcessMs: { median: Math.round(median(offline)), runs: offline.map(Math.round) },
        processStartupMs: { median: Math.round(median(helpOnly)), note: 'lafs-verify --help: node start + module loading' },
      },
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await server.stop();
  }
}

await main();
