/**
 * In-process follower tests: real signed leaves written as a static tile log (test/helpers/mirror.ts),
 * served on 127.0.0.1 by a plain file server, followed by the real Follower with a real LogClient,
 * tile reader, IndexStore (LevelDB in a temp dir) and AlertSinks writing to a PassThrough. Only the
 * `verify` function may be wrapped by a test (to simulate a worker crash).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { buildLeaf, verifyLeaf, type VerifiedLeaf } from '../../attestation/record.js';
import { decodeLeaf, encodeLeaf } from '../../attestation/leaf.js';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { LogClient } from '../../client/log-client.js';
import type { Checked } from '../../merkle/errors.js';
import { decodeEntryBundle, encodeEntryBundle } from '../../merkle/bundle.js';
import { generateKeyPair } from '../../merkle/note.js';
import { AlertSinks, type Alert, type SinkOptions } from '../../monitor/alerts.js';
import { Follower, type FollowerOptions } from '../../monitor/follower.js';
import { IndexStore } from '../../monitor/index-store.js';
import { httpBundleReader, httpNoteReader, httpTileReader } from '../../monitor/tile-reader.js';
import { serveDir, writeStaticLog, type StaticServer } from '../helpers/mirror.js';
import { signDetached, statementText, type StatementInput, type TestBuilder } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';

export const ORIGIN = 'follower.example/lafs-log';
export const logKeys = generateKeyPair(ORIGIN, nodeEd25519);

/** The leaf bytes of a lafs-attestation/v1 submission signed by `builder`. */
export async function attestationLeaf(builder: TestBuilder, statement: StatementInput): Promise<Uint8Array> {
  const text = statementText(statement);
  const signature = (await signDetached(builder, text)) as Uint8Array;
  const built = await buildLeaf({ kind: 'lafs-attestation/v1', signed: new TextEncoder().encode(text), signature, publicKey: builder.publicKey });
  return built.bytes;
}

/** A well-encoded leaf whose statement parses but whose signature does not cover it (one hash digit changed). */
export function badSignatureLeaf(valid: Uint8Array): Uint8Array {
  const leaf = decodeLeaf(valid);
  const text = new TextDecoder().decode(leaf.signed);
  const at = text.indexOf('artifact sha256:') + 'artifact sha256:'.length;
  const changed = text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1);
  return encodeLeaf({ ...leaf, signed: new TextEncoder().encode(changed) });
}

/** A static log directory (rewritable: call `write` again with more leaves) and its file server. */
export class StaticLog {
  readonly dir = tempDir('lafs-follower-log-');
  server!: StaticServer;
  static async serve(leaves: readonly Uint8Array[]): Promise<StaticLog> {
    const log = new StaticLog();
    log.write(leaves);
    log.server = await serveDir(log.dir);
    return log;
  }
  write(leaves: readonly Uint8Array[]): string {
    return writeStaticLog(this.dir, leaves, logKeys.signerKey, ORIGIN).checkpoint;
  }
  get url(): string {
    return this.server.url;
  }
  close(): Promise<void> {
    return this.server.close();
  }
}

export interface Harness {
  follower: Follower;
  store: IndexStore;
  stdout: () => string;
  alerts: () => Alert[];
  logLines: string[];
  controller: AbortController;
  close(): Promise<void>;
}

export const realVerify = (leaf: Uint8Array): Promise<Checked<VerifiedLeaf>> => verifyLeaf(decodeLeaf(leaf)).catch((e: unknown) => ({ ok: false as const, reason: String(e) }));

/** Opens (or reopens) the state in `stateDir` and builds a follower of `url`. */
export async function harness(url: string, stateDir: string, options: Partial<Omit<FollowerOptions, 'sinks'>> & { sinkOptions?: SinkOptions; verifierKey?: string } = {}): Promise<Harness> {
  const controller = new AbortController();
  const store = await IndexStore.open(join(stateDir, 'db'), ORIGIN, { create: true });
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => (text += d));
  const sinks = new AlertSinks({ stdout: out, stderr: new PassThrough(), ...options.sinkOptions });
  const logLines: string[] = [];
  const client = new LogClient({ url, verifierKey: options.verifierKey ?? logKeys.verifierKey, origin: ORIGIN, retries: 0, timeoutMs: 5_000, signal: controller.signal });
  const { sinkOptions: _s, verifierKey: _v, ...rest } = options;
  const follower = new Follower({
    source: client,
    tiles: httpTileReader(url, { attempts: 1, signal: controller.signal }),
    bundles: httpBundleReader(url, { attempts: 1, signal: controller.signal }),
    fetchNote: httpNoteReader(url, { attempts: 1, signal: controller.signal }),
    store,
    sinks,
    verify: realVerify,
    sha256: nodeSha256,
    signal: controller.signal,
    once: true,
    intervalMs: 50,
    log: (line) => logLines.push(line),
    ...rest,
  });
  const alerts = () => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Alert);
  return { follower, store, stdout: () => text, alerts, logLines, controller, close: () => store.close() };
}

/** Rewrites the entry bundle `file` (of `width` entries) with one bit of leaf `index` flipped: still a well-formed bundle, but that leaf hashes otherwise. */
export function tamperBundle(file: string, width: number, index: number): void {
  const bundle = decodeEntryBundle(new Uint8Array(readFileSync(file)), width);
  const leaf = Uint8Array.from(bundle[index]!);
  leaf[leaf.length - 1]! ^= 1;
  bundle[index] = leaf;
  writeFileSync(file, encodeEntryBundle(bundle));
}
