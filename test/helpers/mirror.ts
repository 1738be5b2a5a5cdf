/**
 * Static tile mirrors for tests: a plain directory of C2SP tlog-tiles files (`checkpoint`,
 * `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`) served by a bare node:http file server on
 * 127.0.0.1 — no /v1 API, no knowledge of the log, exactly what a CDN would be.
 *
 * - `mirrorLog(url)` copies the checkpoint and every tile of a running log's current tree.
 * - `writeStaticLog(dir, leaves, signerKey)` builds such a directory straight from merkle
 *   functions and note signing, with no server at all.
 * - `serveDir(dir)` serves a directory (tests tamper with its files between requests).
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { TILE_WIDTH, tilePath, type TileRef } from '../../merkle/tiles.js';
import { HASH_SIZE, leafHash, rootOfLeafHashes, emptyRoot, type Hash } from '../../merkle/hash.js';
import { encodeEntryBundle } from '../../merkle/bundle.js';
import { parseSignerKey, signNote } from '../../merkle/note.js';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { tempDir } from './tmp.js';

export interface StaticServer {
  url: string;
  dir: string;
  /** Paths of requests received, in order (e.g. "/tile/0/000.p/5"). */
  requests: string[];
  close(): Promise<void>;
}

/** Serves the files under `dir` read-only on a free loopback port; anything else is a 404. */
export async function serveDir(dir: string): Promise<StaticServer> {
  const root = normalize(dir) + sep;
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = normalize(join(root, path));
    if (req.method !== 'GET' || !file.startsWith(root)) {
      res.writeHead(req.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end('not here\n');
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404 Not Found</body></html>');
      return;
    }
    const type = path === '/checkpoint' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Number of hashes at tile level `level` (tree level 8*level) of a tree of `size` leaves. */
function hashesAt(size: number, level: number): number {
  return Math.floor(size / 2 ** (8 * level));
}

/** Every hash tile and entry bundle of a tree of `size` leaves, at its width in that tree. */
export function allTiles(size: number): TileRef[] {
  const refs: TileRef[] = [];
  for (let level = 0; hashesAt(size, level) > 0; level++) {
    const count = hashesAt(size, level);
    for (let index = 0; index * TILE_WIDTH < count; index++) {
      const width = Math.min(TILE_WIDTH, count - index * TILE_WIDTH);
      refs.push({ kind: 'hash', level, index, width });
      if (level === 0) refs.push({ kind: 'entries', index, width });
    }
  }
  return refs;
}

function writeFile(dir: string, path: string, bytes: Uint8Array | string): void {
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}

/** Size on line 2 of a checkpoint note (the mirror copies, it does not verify). */
function sizeOfNote(note: string): number {
  const line = note.split('\n')[1] ?? '';
  if (!/^(0|[1-9][0-9]*)$/.test(line)) throw new Error(`checkpoint line 2 is not a size: ${JSON.stringify(line)}`);
  return Number(line);
}

/** Copies /checkpoint and every tile of the log's current tree into `dir` (a new temp dir by default). */
export async function copyLog(url: string, dir = tempDir('lafs-mirror-')): Promise<{ dir: string; size: number; checkpoint: string }> {
  const base = url.replace(/\/+$/, '');
  const cpRes = await fetch(`${base}/checkpoint`, { signal: AbortSignal.timeout(10_000) });
  if (cpRes.status !== 200) throw new Error(`GET ${base}/checkpoint: ${cpRes.status}`);
  const checkpoint = await cpRes.text();
  const size = sizeOfNote(checkpoint);
  const refs = allTiles(size);
  // A few requests at a time: bounded, and quick for the trees tests build.
  for (let i = 0; i < refs.length; i += 16) {
    await Promise.all(refs.slice(i, i + 16).map(async (ref) => {
      const path = tilePath(ref);
      const res = await fetch(`${base}/${path}`, { signal: AbortSignal.timeout(10_000) });
      if (res.status !== 200) throw new Error(`GET ${base}/${path}: ${res.status}`);
      writeFile(dir, path, new Uint8Array(await res.arrayBuffer()));
    }));
  }
  writeFile(dir, 'checkpoint', checkpoint);
  return { dir, size, checkpoint };
}

/** A static mirror of a running log: its files copied to a temp dir and served by a plain file server. */
export async function mirrorLog(url: string): Promise<StaticServer & { size: number; checkpoint: string }> {
  const copy = await copyLog(url);
  const server = await serveDir(copy.dir);
  return { ...server, size: copy.size, checkpoint: copy.checkpoint };
}

/**
 * Writes a complete static log of `leaves` into `dir`, computed directly with merkle functions
 * (independent of the log server): tiles, entry bundles and a checkpoint signed with `signerKey`.
 */
export function writeStaticLog(dir: string, leaves: readonly Uint8Array[], signerKey: string, origin: string): { root: Hash; checkpoint: string } {
  const size = leaves.length;
  // levels[L] = the hashes at tree level 8L: leaf hashes, then roots of 256-hash groups.
  const levels: Hash[][] = [leaves.map((l) => leafHash(l, nodeSha256))];
  while (levels[levels.length - 1]!.length >= TILE_WIDTH) {
    const below = levels[levels.length - 1]!;
    const above: Hash[] = [];
    for (let i = 0; i + TILE_WIDTH <= below.length; i += TILE_WIDTH) above.push(rootOfLeafHashes(below.slice(i, i + TILE_WIDTH), nodeSha256));
    levels.push(above);
  }
  for (const ref of allTiles(size)) {
    const start = ref.index * TILE_WIDTH;
    if (ref.kind === 'entries') {
      writeFile(dir, tilePath(ref), encodeEntryBundle(leaves.slice(start, start + ref.width)));
    } else {
      const hashes = levels[ref.level]!.slice(start, start + ref.width);
      const bytes = new Uint8Array(hashes.length * HASH_SIZE);
      hashes.forEach((h, i) => bytes.set(h, i * HASH_SIZE));
      writeFile(dir, tilePath(ref), bytes);
    }
  }
  const root = size === 0 ? emptyRoot(nodeSha256) : rootOfLeafHashes(levels[0]!, nodeSha256);
  const body = `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n`;
  const checkpoint = signNote(body, [parseSignerKey(signerKey, nodeEd25519)]);
  writeFile(dir, 'checkpoint', checkpoint);
  return { root, checkpoint };
}
