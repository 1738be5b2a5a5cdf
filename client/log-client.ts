/**
 * A client of the log that trusts nothing it receives (DESIGN.md sections 2 and 4; docs/client.md).
 *
 * - The checkpoint is a C2SP signed note: its Ed25519 signature must verify with the configured
 *   verifier key and its origin must be the configured one.
 * - Hash tiles are verified against the checkpoint root (client/verified-tree.ts), entry bundles
 *   against level-0 tiles, so every leaf handed out is provably in the signed tree.
 * - Inclusion and consistency proofs come from the /v1 API when the log has one, else they are
 *   computed from verified tiles (static mirrors); either way merkle's RFC 9162 verifier checks
 *   them before they are returned.
 * - Leaves are decoded and parsed, but their OpenPGP signatures are NOT checked here: that is the
 *   caller's policy (attestation verifyLeaf / VerifyPool).
 */
import { LafsError } from '../merkle/errors.js';
import { nodeHash, type Hash, type Sha256 } from '../merkle/hash.js';
import { TILE_WIDTH } from '../merkle/tiles.js';
import { verifyCheckpoint, type Checkpoint } from '../merkle/checkpoint.js';
import { parseVerifierKey, type NoteVerifier } from '../merkle/note.js';
import { makeConsistencyProof, makeInclusionProof, verifyConsistency, verifyInclusion } from '../merkle/proof.js';
import { tileHashSource, type TileReader } from '../merkle/tile-source.js';
import { decodeBase64Strict, encodeBase64 } from '../merkle/base64.js';
import { decodeLeaf, type Leaf } from '../attestation/leaf.js';
import { viewLeaf, type LeafView } from '../attestation/record.js';
import { nodeEd25519, nodeSha256 } from '../attestation/node-crypto.js';
import { HttpTransport, apiError, apiErrorBody, type HttpResponse } from './http.js';
import { TileFetcher } from './tile-fetcher.js';
import { TileCache } from './tile-cache.js';
import { VerifiedTree, plainBytes } from './verified-tree.js';

export interface LogClientOptions {
  url: string; // base URL of a log server or of a static tile mirror
  verifierKey: string; // note verifier key `name+hex+base64`
  origin?: string; // defaults to the verifier key's name
  timeoutMs?: number; // per request, default 10000
  retries?: number; // on 5xx and network errors, capped exponential backoff, default 3
  backoffMs?: number; // first retry delay before jitter, default 250
  maxBackoffMs?: number; // retry delay cap, default 5000
  signal?: AbortSignal; // aborts every request and retry wait (long-running callers)
  tileCacheBytes?: number; // LRU of immutable full tiles, default 16 MiB
}
export interface VerifiedCheckpoint { checkpoint: Checkpoint; note: string }
export interface VerifiedEntry { index: number; leaf: Uint8Array; leafHash: Hash; decoded: Leaf; view: LeafView }
/** An entry proven to be in the tree, not yet decoded (for callers that handle undecodable leaves themselves). */
export interface RawEntry { index: number; leaf: Uint8Array; leafHash: Hash }
export interface LookupRow { index: number; builder: string; source: string; platform: string | null; name: string; hash: string }
/** An inclusion proof in an older tree than a signed checkpoint, with that tree's root proven a prefix of it. */
export interface PastInclusion { index: number; size: number; proof: Hash[]; root: Hash; consistencyProof: Hash[] }
export interface LogInfo { origin: string; verifierKey: string; size: number }
export interface SubmitResult { index: number; leafHash: Hash; builder: string; created: boolean; warnings: string[]; checkpoint: VerifiedCheckpoint; inclusionProof: Hash[] }

const MAX_NOTE_BYTES = 64 * 1024;
const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** A tree of at most 2^53 leaves needs at most 53 hashes in an inclusion proof, ~2*53 in a consistency proof. */
const MAX_PROOF_HASHES = 128;
const TREES_KEPT = 4;

type Json = Record<string, unknown>;

/** Field readers for JSON the log sent: each names the field and the URL when it is wrong. */
class JsonReader {
  constructor(private readonly obj: Json, private readonly what: string) {}
  static parse(res: HttpResponse): JsonReader {
    const what = `${res.method} ${res.url}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(res.body));
    } catch (err) {
      throw new LafsError('inconsistent', `${what}: response is not valid JSON (${(err as Error).message})`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new LafsError('inconsistent', `${what}: response is not a JSON object`);
    return new JsonReader(parsed as Json, what);
  }
  private bad(field: string, expected: string): LafsError {
    return new LafsError('inconsistent', `${this.what}: field "${field}" of the response is not ${expected}`);
  }
  index(field: string): number {
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw this.bad(field, 'a non-negative integer');
    return v;
  }
  string(field: string): string {
    const v = this.obj[field];
    if (typeof v !== 'string') throw this.bad(field, 'a string');
    return v;
  }
  stringOrNull(field: string): string | null {
    const v = this.obj[field];
    if (v === null) return null;
    if (typeof v !== 'string') throw this.bad(field, 'a string or null');
    return v;
  }
  strings(field: string, optional = false): string[] {
    const v = this.obj[field];
    if (v === undefined && optional) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw this.bad(field, 'an array of strings');
    return v as string[];
  }
  /** An optional boolean; absent is false. */
  flag(field: string): boolean {
    const v = this.obj[field];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw this.bad(field, 'a boolean');
    return v;
  }
  hash(field: string): Hash {
    return this.decodeHash(this.obj[field], field);
  }
  hashes(field: string): Hash[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || v.length > MAX_PROOF_HASHES) throw this.bad(field, `an array of at most ${MAX_PROOF_HASHES} base64 hashes`);
    return v.map((h, i) => this.decodeHash(h, `${field}[${i}]`));
  }
  objects(field: string): JsonReader[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || !v.every((o) => o && typeof o === 'object' && !Array.isArray(o))) throw this.bad(field, 'an array of objects');
    return v.map((o, i) => new JsonReader(o as Json, `${this.what}: ${field}[${i}]`));
  }
  private decodeHash(v: unknown, field: string): Hash {
    const bytes = typeof v === 'string' ? decodeBase64Strict(v) : undefined;
    if (!bytes || bytes.length !== 32) throw this.bad(field, 'a 32-byte hash in standard base64');
    return bytes;
  }
}

function describeProofFailure(reason: string): string {
  return reason.endsWith('.') ? reason.slice(0, -1) : reason;
}

export class LogClient {
  readonly url: string;
  readonly origin: string;
  private readonly verifier: NoteVerifier;
  private readonly http: HttpTransport;
  private readonly tiles: TileFetcher;
  private readonly trees = new Map<string, VerifiedTree>();
  /** Whether the URL serves the /v1 API; learned from the first /v1 answer (a static mirror has none). */
  private api: 'unknown' | 'present' | 'absent' = 'unknown';

  constructor(options: LogClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new LafsError('bad-request', `log URL "${options.url}" is not a URL; expected e.g. http://127.0.0.1:8080 or https://log.example.org/lafs`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new LafsError('bad-request', `log URL "${options.url}": only http and https are supported`);
    if (parsed.search || parsed.hash) throw new LafsError('bad-request', `log URL "${options.url}": must not have a query or fragment`);
    this.url = parsed.href.replace(/\/+$/, '');
    this.verifier = parseVerifierKey(options.verifierKey, nodeEd25519);
    this.origin = options.origin ?? this.verifier.name;
    this.http = new HttpTransport({
      timeoutMs: options.timeoutMs, retries: options.retries, backoffMs: options.backoffMs,
      maxBackoffMs: options.maxBackoffMs, signal: options.signal, userAgent: 'lafs-client',
    });
    this.tiles = new TileFetcher(this.url, this.http, new TileCache(options.tileCacheBytes));
  }

  /**
   * GET /v1/log of a log server: its origin and verifier key as the log itself reports them
   * (unpinned: whoever answers chooses the key), through the same transport (timeouts, retries).
   * A static mirror has no /v1 API and cannot tell its key: LafsError('unavailable') says so.
   */
  static async logInfo(url: string, options: Omit<LogClientOptions, 'url' | 'verifierKey' | 'origin' | 'tileCacheBytes'> = {}): Promise<LogInfo> {
    const base = url.replace(/\/+$/, '');
    const http = new HttpTransport({ timeoutMs: options.timeoutMs, retries: options.retries, backoffMs: options.backoffMs, maxBackoffMs: options.maxBackoffMs, signal: options.signal, userAgent: 'lafs-client' });
    const res = await http.request('GET', `${base}/v1/log`, { maxBytes: MAX_JSON_BYTES });
    if (res.status !== 200 || !res.contentType.toLowerCase().includes('application/json')) {
      if (apiErrorBody(res)) throw apiError(res);
      throw new LafsError('unavailable', `GET ${base}/v1/log: ${base} serves no /v1 API (a static tile mirror?), so it cannot tell its verifier key; pass the key (name+hex+base64) from the log's operator or \`lafs-log key\``);
    }
    const r = JsonReader.parse(res);
    return { origin: r.string('origin'), verifierKey: r.string('verifierKey'), size: r.index('size') };
  }

  // ---- checkpoints ----

  /** GET /checkpoint, signature and origin verified. */
  async checkpoint(): Promise<VerifiedCheckpoint> {
    const url = `${this.url}/checkpoint`;
    const res = await this.http.request('GET', url, { maxBytes: MAX_NOTE_BYTES });
    if (res.status !== 200) throw apiError(res);
    return this.verifyNote(res.body, `GET ${url}`);
  }

  /** Verifies a signed checkpoint note (from /checkpoint, a submission answer, a bundle) with this log's key and origin. */
  verifyNote(note: string | Uint8Array, where = 'checkpoint'): VerifiedCheckpoint {
    const checked = verifyCheckpoint(note, this.verifier, this.origin);
    if (!checked.ok) throw new LafsError('bad-note', `${where}: checkpoint does not verify with the verifier key of "${this.verifier.name}" and origin "${this.origin}": ${checked.reason}`);
    return checked.value;
  }

  // ---- proofs ----

  /** Inclusion proof for `index` under `cp`, verified against the given leaf hash. */
  async inclusionProof(index: number, leafHash: Hash, cp: Checkpoint): Promise<Hash[]> {
    this.checkOwn(cp);
    if (!Number.isSafeInteger(index) || index < 0 || index >= cp.size) {
      throw new LafsError('out-of-range', `index ${index} is not in the tree of size ${cp.size}`);
    }
    const { proof, source } = await this.inclusionPath(index, leafHash, cp.size, cp);
    const verdict = verifyInclusion(leafHash, index, cp.size, proof, cp.root, nodeSha256);
    if (!verdict.ok) {
      throw new LafsError('inconsistent', `${source}: inclusion proof of leaf ${encodeBase64(leafHash)} at index ${index} does not verify against the checkpoint of size ${cp.size}: ${describeProofFailure(verdict.reason)}`);
    }
    return proof;
  }

  /**
   * The audit path of `index` in the tree of the first `size` leaves (size <= cp.size), not yet
   * verified: from the /v1 API when the log has one (checked to answer for this index, size and
   * leaf hash), else computed from tiles verified against `cp` (static mirrors). `source` names
   * where it came from, for error messages.
   */
  private async inclusionPath(index: number, leafHash: Hash, size: number, cp: Checkpoint): Promise<{ proof: Hash[]; source: string }> {
    const res = await this.apiGet(`/v1/proof/inclusion?index=${index}&size=${size}`);
    if (res) {
      const r = JsonReader.parse(res);
      const source = `GET ${res.url}`;
      if (r.index('index') !== index || r.index('size') !== size) throw new LafsError('inconsistent', `${source}: answered for another index or size than asked`);
      const served = r.hash('leafHash');
      if (encodeBase64(served) !== encodeBase64(leafHash)) {
        throw new LafsError('inconsistent', `${source}: the log says the leaf at index ${index} has hash ${encodeBase64(served)}, not ${encodeBase64(leafHash)}`);
      }
      return { proof: r.hashes('proof'), source };
    }
    // Complete subtrees of the first `size` leaves are nodes of cp's tree too: its verified tiles hold them.
    const tree = this.tree(cp);
    const proof = await makeInclusionProof(index, size, tileHashSource(cp.size, tree.readTile, nodeSha256), nodeSha256);
    return { proof: proof.map(plainBytes), source: `inclusion proof computed from the tiles of ${this.url}` };
  }

  /**
   * Inclusion proof of `index` in the tree of the first `size` leaves (size <= cp.size), for the
   * given leaf hash. No signed checkpoint of that size may exist any more, so the tree's root is
   * derived (from the audit path, RFC 9162 2.1.3.2) and proven a prefix of `cp` with a verified
   * consistency proof (2.1.4), which is what makes it trustworthy. The path comes from the /v1 API
   * when the log has one, else from tiles verified against `cp` (static mirrors).
   */
  async inclusionProofAt(index: number, leafHash: Hash, size: number, cp: Checkpoint): Promise<PastInclusion> {
    this.checkOwn(cp);
    if (!Number.isSafeInteger(size) || size < 1 || size > cp.size) throw new LafsError('out-of-range', `tree size ${size} is not between 1 and the checkpoint's size ${cp.size}`);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new LafsError('out-of-range', `index ${index} is not in the tree of size ${size}`);
    if (size === cp.size) return { index, size, proof: await this.inclusionProof(index, leafHash, cp), root: cp.root, consistencyProof: [] };
    const { proof, source } = await this.inclusionPath(index, leafHash, size, cp);
    const root = rootFromInclusionPath(index, size, leafHash, proof, nodeSha256);
    if (!root) throw new LafsError('inconsistent', `${source}: inclusion proof of index ${index} in size ${size} has the wrong length (${proof.length} hashes)`);
    const consistencyProof = await this.proveConsistency({ origin: cp.origin, size, root, extensions: [] }, cp);
    return { index, size, proof, root: plainBytes(root), consistencyProof };
  }

  /** Proves `newer` extends `older` (server proof if the API exists, else computed from tiles). Throws LafsError('inconsistent'). */
  async proveConsistency(older: Checkpoint, newer: Checkpoint): Promise<Hash[]> {
    this.checkOwn(older);
    this.checkOwn(newer);
    if (older.size > newer.size) {
      throw new LafsError('inconsistent', `the log's tree shrank from ${older.size} to ${newer.size} leaves: it is not append-only`);
    }
    if (older.size === newer.size || older.size === 0) {
      // Nothing to prove beyond equal roots (RFC 9162 2.1.4: the empty tree is a prefix of every tree).
      if (older.size === newer.size && encodeBase64(older.root) !== encodeBase64(newer.root)) {
        throw new LafsError('inconsistent', `two checkpoints of size ${older.size} have different roots (${encodeBase64(older.root)} and ${encodeBase64(newer.root)}): the log forked`);
      }
      return [];
    }
    let proof: Hash[];
    let source: string;
    const res = await this.apiGet(`/v1/proof/consistency?from=${older.size}&to=${newer.size}`);
    if (res) {
      const r = JsonReader.parse(res);
      source = `GET ${res.url}`;
      if (r.index('from') !== older.size || r.index('to') !== newer.size) throw new LafsError('inconsistent', `${source}: answered for other sizes than asked`);
      proof = r.hashes('proof');
    } else {
      const tree = this.tree(newer);
      source = `consistency proof computed from the tiles of ${this.url}`;
      proof = (await makeConsistencyProof(older.size, newer.size, tileHashSource(newer.size, tree.readTile, nodeSha256), nodeSha256)).map(plainBytes);
    }
    const verdict = verifyConsistency(older.size, newer.size, proof, older.root, newer.root, nodeSha256);
    if (!verdict.ok) {
      throw new LafsError('inconsistent', `${source}: the checkpoint of size ${newer.size} is not an extension of the one of size ${older.size}: ${describeProofFailure(verdict.reason)}`);
    }
    return proof;
  }

  /** A merkle TileReader over `cp`'s tree that only returns tiles verified against `cp` (for callers building their own proofs). */
  tileReader(cp: Checkpoint): TileReader {
    this.checkOwn(cp);
    return this.tree(cp).readTile;
  }

  // ---- entries ----

  /** Entries [start, end) under `cp`, each proven in the tree, not decoded. One entry bundle in memory (plus one prefetched). */
  async *rawEntries(start: number, end: number, cp: Checkpoint): AsyncGenerator<RawEntry> {
    this.checkOwn(cp);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > cp.size) {
      throw new LafsError('out-of-range', `entries [${start}, ${end}) are not within the tree of size ${cp.size}`);
    }
    if (start === end) return;
    const tree = this.tree(cp);
    const first = Math.floor(start / TILE_WIDTH);
    const last = Math.floor((end - 1) / TILE_WIDTH);
    const fetchBundle = (t: number) => {
      const p = tree.entryBundle(t);
      p.catch(() => undefined); // consumed below; avoids an unhandled rejection if the caller stops early
      return p;
    };
    let next = fetchBundle(first);
    for (let t = first; t <= last; t++) {
      const bundle = await next;
      if (t < last) next = fetchBundle(t + 1);
      const from = Math.max(start - t * TILE_WIDTH, 0);
      const to = Math.min(end - t * TILE_WIDTH, bundle.leaves.length);
      for (let i = from; i < to; i++) {
        yield { index: t * TILE_WIDTH + i, leaf: bundle.leaves[i]!, leafHash: bundle.leafHashes[i]! };
      }
    }
  }

  /** Entries [start, end) under `cp`, from entry bundles checked against level-0 tiles and the root. */
  async *entries(start: number, end: number, cp: Checkpoint): AsyncGenerator<VerifiedEntry> {
    for await (const raw of this.rawEntries(start, end, cp)) yield decodeEntry(raw);
  }

  async entry(index: number, cp: Checkpoint): Promise<VerifiedEntry> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= cp.size) {
      throw new LafsError('out-of-range', `index ${index} is not in the tree of size ${cp.size}`);
    }
    for await (const e of this.entries(index, index + 1, cp)) return e;
    throw new LafsError('internal', `entry ${index} was not produced`);
  }

  /** Whether the URL serves the /v1 API (a log server) or not (a static tile mirror); asks GET /v1/log once if not yet known. */
  async hasApi(): Promise<boolean> {
    if (this.api === 'unknown') {
      try {
        await this.apiGet('/v1/log');
      } catch (err) {
        // An API error answer (JSON error body) still means there is an API.
        if ((this.api as string) !== 'present') throw err;
      }
    }
    return this.api === 'present';
  }

  // ---- lookups and submissions (need the /v1 API) ----

  /** Lookup (needs the /v1 API; throws LafsError('unavailable') on a static mirror). Rows are hints: callers verify entries. */
  async lookupHash(sha256Hex: string): Promise<LookupRow[]> {
    const hex = sha256Hex.startsWith('sha256:') ? sha256Hex.slice(7) : sha256Hex;
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new LafsError('bad-request', `hash "${sha256Hex}": expected sha256:<64 lowercase hex>`);
    return this.lookup(`hash=${encodeURIComponent(`sha256:${hex}`)}`);
  }

  async lookupName(q: { source: string; platform?: string; name?: string }): Promise<LookupRow[]> {
    if (!q.source) throw new LafsError('bad-request', 'source: required for a lookup by name');
    const params = new URLSearchParams({ source: q.source });
    if (q.platform !== undefined) params.set('platform', q.platform);
    if (q.name !== undefined) params.set('name', q.name);
    return this.lookup(params.toString());
  }

  private async lookup(query: string): Promise<LookupRow[]> {
    const res = await this.apiGet(`/v1/lookup?${query}`);
    if (!res) throw this.noApi(`GET ${this.url}/v1/lookup?${query}`, 'lookups need the log server itself: pass its URL, or use an offline bundle');
    const r = JsonReader.parse(res);
    // A cut-off answer could hide a disagreeing entry: refuse it rather than return part of the truth.
    if (r.flag('truncated')) throw new LafsError('too-large', `GET ${res.url}: the log cut the answer off at its row limit; narrow the query (add platform and name)`);
    return r.objects('entries').map((row) => ({
      index: row.index('index'),
      builder: row.string('builder'),
      source: row.string('source'),
      platform: row.stringOrNull('platform'),
      name: row.string('name'),
      hash: row.string('hash'),
    }));
  }

  /** POST /v1/entries; the returned checkpoint and inclusion proof are verified. */
  async submit(body: Record<string, unknown>): Promise<SubmitResult> {
    const url = `${this.url}/v1/entries`;
    // Retrying a submission is safe: the log answers the same leaf with its existing index.
    const res = await this.http.request('POST', url, { body: JSON.stringify(body), maxBytes: MAX_JSON_BYTES });
    if (res.status !== 200 && res.status !== 201) {
      if (!apiErrorBody(res) && res.status < 500) {
        this.api = 'absent';
        throw this.noApi(`POST ${url}`, 'submissions go to the log server itself: pass its URL');
      }
      throw apiError(res);
    }
    this.api = 'present';
    const r = JsonReader.parse(res);
    const where = `POST ${url}`;
    const index = r.index('index');
    const leafHash = r.hash('leafHash');
    const checkpoint = this.verifyNote(r.string('checkpoint'), `${where}: returned checkpoint`);
    const cp = checkpoint.checkpoint;
    if (index >= cp.size) throw new LafsError('inconsistent', `${where}: index ${index} is not in the returned checkpoint of size ${cp.size}`);
    const inclusionProof = r.hashes('inclusionProof');
    const verdict = verifyInclusion(leafHash, index, cp.size, inclusionProof, cp.root, nodeSha256);
    if (!verdict.ok) {
      throw new LafsError('inconsistent', `${where}: returned inclusion proof of index ${index} does not verify against the returned checkpoint: ${describeProofFailure(verdict.reason)}`);
    }
    return { index, leafHash, builder: r.string('builder'), created: res.status === 201, warnings: r.strings('warnings', true), checkpoint, inclusionProof };
  }

  // ---- internals ----

  /** GET a /v1 path; undefined when the URL has no /v1 API (a static mirror). API errors (4xx with a JSON body) throw. */
  private async apiGet(pathAndQuery: string): Promise<HttpResponse | undefined> {
    if (this.api === 'absent') return undefined;
    const res = await this.http.request('GET', `${this.url}${pathAndQuery}`, { maxBytes: MAX_JSON_BYTES });
    const isJson = res.contentType.toLowerCase().includes('application/json');
    if (res.status === 200 && isJson) {
      this.api = 'present';
      return res;
    }
    if (apiErrorBody(res)) {
      this.api = 'present';
      throw apiError(res);
    }
    // A 404 page, a 405, or a catch-all HTML page: not the API.
    this.api = 'absent';
    return undefined;
  }

  private noApi(what: string, advice: string): LafsError {
    return new LafsError('unavailable', `${what}: ${this.url} serves no /v1 API (a static tile mirror?); ${advice}`);
  }

  /** A checkpoint of another log cannot be checked with this log's tiles. */
  private checkOwn(cp: Checkpoint): void {
    if (cp.origin !== this.origin) throw new LafsError('bad-request', `checkpoint of origin "${cp.origin}" given to the client of "${this.origin}"`);
  }

  /** The verified-tile view of `cp`'s tree, shared between calls for the same checkpoint. */
  private tree(cp: Checkpoint): VerifiedTree {
    const key = `${cp.size}:${encodeBase64(cp.root)}`;
    let tree = this.trees.get(key);
    if (!tree) {
      tree = new VerifiedTree(cp, this.tiles, nodeSha256);
      this.trees.set(key, tree);
      for (const k of this.trees.keys()) {
        if (this.trees.size <= TREES_KEPT) break;
        this.trees.delete(k);
      }
    }
    return tree;
  }
}

/** RFC 9162 2.1.3.2 run forwards: the root an audit path implies, or null if the path has the wrong shape. */
export function rootFromInclusionPath(index: number, size: number, leaf: Hash, path: readonly Hash[], sha256: Sha256): Hash | null {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r, sha256);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = nodeHash(r, p, sha256);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** decodeLeaf + viewLeaf, with the entry's index in the message when the log holds a malformed leaf. */
export function decodeEntry(raw: RawEntry): VerifiedEntry {
  let decoded: Leaf;
  let view: LeafView;
  try {
    decoded = decodeLeaf(raw.leaf);
    view = viewLeaf(decoded);
  } catch (err) {
    if (err instanceof LafsError) throw new LafsError(err.code, `entry ${raw.index}: ${err.message}`, { cause: err });
    throw err;
  }
  return { ...raw, decoded, view };
}
