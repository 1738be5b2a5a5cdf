/**
 * C2SP tlog-tiles coordinates and paths.
 *
 * The tree's hashes are cut into tiles of height 8: the hash tile at tile level L, index N holds
 * the hashes of tree level 8L at indexes 256N .. 256N+255, i.e. the roots of the complete
 * subtrees of 2^(8L) leaves. A tile is "full" with 256 hashes and immutable from then on; the
 * rightmost tile of each level is "partial" with width W < 256 and is served as `.p/<W>`.
 * Entry tiles (`tile/entries/N`) hold the leaves under hash tile (0, N) as entry bundles.
 * Index N is written in groups of three digits, all but the last prefixed with `x`
 * (1234067 -> x001/x234/067). Every coordinate has exactly one spelling, so parsing rejects
 * every other spelling: caches and mirrors key on the path.
 *
 * Tree arithmetic uses plain numbers with division, never bitwise operators (32-bit).
 */
import { LafsError } from './errors.js';

/** Tree levels per tile (C2SP tlog-tiles). */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;
/** Highest tile level a path may name (the spec's bound). */
export const MAX_TILE_LEVEL = 63;

/** A hash tile: `hashes` holds width*32 bytes, the hashes at tree level level*8, indexes index*256 .. +width-1. */
export interface HashTile { level: number; index: number; width: number; hashes: Uint8Array }
export type TileRef =
  | { kind: 'hash'; level: number; index: number; width: number } // width 256 = full tile (no .p/)
  | { kind: 'entries'; index: number; width: number };

/** 256^L for every tile level (a table: `**` with a variable exponent is a slow library call). */
const LEAVES_PER_TILE_HASH = Array.from({ length: MAX_TILE_LEVEL + 1 }, (_, level) => TILE_WIDTH ** level);

/** Number of hashes stored at tile level `level` (tree level 8*level) in a tree of `size` leaves. */
export function hashesAtTileLevel(level: number, size: number): number {
  return Math.floor(size / (LEAVES_PER_TILE_HASH[level] ?? TILE_WIDTH ** level));
}

/** "tile/0/x001/x234/067.p/5" or "tile/entries/067" (no leading slash). */
export function tilePath(ref: TileRef): string {
  const level = ref.kind === 'entries' ? 'entries' : String(ref.level);
  if (ref.kind === 'hash' && !(Number.isInteger(ref.level) && ref.level >= 0 && ref.level <= MAX_TILE_LEVEL)) {
    throw new LafsError('bad-tile', `tile path: level ${String(ref.level)} is not an integer in 0..${MAX_TILE_LEVEL}`);
  }
  if (!Number.isSafeInteger(ref.index) || ref.index < 0) {
    throw new LafsError('bad-tile', `tile path: index ${String(ref.index)} is not a non-negative safe integer`);
  }
  if (!Number.isInteger(ref.width) || ref.width < 1 || ref.width > TILE_WIDTH) {
    throw new LafsError('bad-tile', `tile path: width ${String(ref.width)} is not an integer in 1..${TILE_WIDTH}`);
  }
  // Same bound as parseTilePath, so every path made here parses back.
  const levelsBelow = ref.kind === 'entries' ? 1 : ref.level + 1;
  if (BigInt(ref.index) * BigInt(TILE_WIDTH) ** BigInt(levelsBelow) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LafsError('bad-tile', `tile path: ${ref.kind === 'entries' ? 'entry tile' : `tile (${ref.level}, ${ref.index})`} ${ref.kind === 'entries' ? ref.index + ' ' : ''}lies beyond 2^53 leaves`);
  }
  const suffix = ref.width === TILE_WIDTH ? '' : `.p/${ref.width}`;
  return `tile/${level}/${encodeTileIndex(ref.index)}${suffix}`;
}

/** 1234067 -> "x001/x234/067"; 5 -> "005". */
function encodeTileIndex(index: number): string {
  let digits = String(index);
  digits = '0'.repeat((3 - (digits.length % 3)) % 3) + digits;
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3));
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

const LEVEL = /^(0|[1-9][0-9]*)$/;
const WIDTH = /^[1-9][0-9]*$/;
const INNER_GROUP = /^x[0-9]{3}$/;
const LAST_GROUP = /^[0-9]{3}$/;
/** 2^53 leaves is the largest tree this implementation can number; 6 groups cover 2^53. */
const MAX_GROUPS = 6;

/** Parses a path (with or without leading "/", starting at "tile/"); throws LafsError('bad-tile') naming what is non-canonical. */
export function parseTilePath(path: string): TileRef {
  const bad = (why: string): never => {
    throw new LafsError('bad-tile', `tile path ${JSON.stringify(String(path).slice(0, 200))}: ${why}`);
  };
  if (typeof path !== 'string') return bad('not a string');
  const rest = path.startsWith('/') ? path.slice(1) : path;
  const segments = rest.split('/');
  if (segments[0] !== 'tile') return bad('does not start with "tile/"');
  if (segments.length < 3) return bad('needs a level and an index');
  const empty = segments.indexOf('');
  if (empty !== -1) return bad(`segment ${empty + 1} is empty (doubled or trailing "/")`);
  const levelText = segments[1]!;
  let indexSegments = segments.slice(2);

  let width = TILE_WIDTH;
  const partialAt = indexSegments.findIndex((s) => s.endsWith('.p'));
  if (partialAt !== -1) {
    if (partialAt !== indexSegments.length - 2) {
      return bad(partialAt === indexSegments.length - 1 ? 'missing width after ".p/"' : 'extra segments after ".p/<width>"');
    }
    const widthText = indexSegments[partialAt + 1]!;
    if (!WIDTH.test(widthText)) return bad(`partial width "${widthText}" is not a decimal number without leading zeros in 1..255`);
    width = Number(widthText);
    if (width >= TILE_WIDTH) return bad(`partial width ${widthText} is not below ${TILE_WIDTH} (a full tile has no ".p/")`);
    indexSegments = indexSegments.slice(0, partialAt);
    indexSegments.push(segments[2 + partialAt]!.slice(0, -2));
  }

  if (indexSegments.length > MAX_GROUPS) return bad(`index has ${indexSegments.length} groups, more than the ${MAX_GROUPS} of any index below 2^53`);
  let digits = '';
  for (let i = 0; i < indexSegments.length; i++) {
    const group = indexSegments[i]!;
    const last = i === indexSegments.length - 1;
    if (group === '') return bad(`index group ${i + 1} is empty`);
    if (last) {
      if (group.startsWith('x')) return bad(`last index group "${group}" must not have the "x" prefix`);
      if (!LAST_GROUP.test(group)) return bad(`last index group "${group}" is not exactly three digits`);
      digits += group;
    } else {
      if (!group.startsWith('x')) return bad(`index group "${group}" lacks the "x" prefix (or is an extra segment)`);
      if (!INNER_GROUP.test(group)) return bad(`index group "${group}" is not "x" and exactly three digits`);
      if (i === 0 && group === 'x000') return bad('index has a leading all-zero group "x000"');
      digits += group.slice(1);
    }
  }
  const indexBig = BigInt(digits);
  if (indexBig > BigInt(Number.MAX_SAFE_INTEGER)) return bad(`index ${digits.replace(/^0+(?=.)/, '')} is too large`);
  const index = Number(indexBig);

  if (levelText === 'entries') {
    if (indexBig * BigInt(TILE_WIDTH) > BigInt(Number.MAX_SAFE_INTEGER)) return bad(`entry tile ${index} lies beyond 2^53 leaves`);
    return { kind: 'entries', index, width };
  }
  if (!LEVEL.test(levelText)) return bad(`level "${levelText}" is not "entries" or a decimal number without leading zeros`);
  const level = Number(levelText);
  if (level > MAX_TILE_LEVEL) return bad(`level ${levelText} is above ${MAX_TILE_LEVEL}`);
  // The first leaf under this tile must be numberable, else no tree we can hold has it.
  if (indexBig * BigInt(TILE_WIDTH) ** BigInt(level + 1) > BigInt(Number.MAX_SAFE_INTEGER)) {
    return bad(`tile (${level}, ${index}) lies beyond 2^53 leaves`);
  }
  return { kind: 'hash', level, index, width };
}

/** Width of tile (level, index) in a tree of `size` leaves; 0 if the tile does not exist yet. */
export function tileWidth(level: number, index: number, size: number): number {
  const count = hashesAtTileLevel(level, size) - index * TILE_WIDTH;
  return count <= 0 ? 0 : Math.min(count, TILE_WIDTH);
}

/**
 * Every tile (hash tiles of all levels, plus entry tiles) of a tree of `size` leaves whose content
 * differs from a tree of `oldSize`: for each level, the tiles from the one holding the old right
 * edge to the one holding the new right edge, at their new widths. Hash tiles come level by
 * level, bottom up, each level left to right; entry tiles (same coordinates as level 0) last.
 */
export function changedTiles(oldSize: number, size: number): TileRef[] {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(size) || oldSize < 0 || oldSize > size) {
    throw new LafsError('out-of-range', `changed tiles: sizes ${String(oldSize)} -> ${String(size)} are not 0 <= old <= new safe integers`);
  }
  const out: TileRef[] = [];
  const entries: TileRef[] = [];
  for (let level = 0; hashesAtTileLevel(level, size) > 0; level++) {
    const before = hashesAtTileLevel(level, oldSize);
    const after = hashesAtTileLevel(level, size);
    if (after === before) continue;
    const first = Math.floor(before / TILE_WIDTH);
    const last = Math.floor((after - 1) / TILE_WIDTH);
    for (let index = first; index <= last; index++) {
      const width = tileWidth(level, index, size);
      out.push({ kind: 'hash', level, index, width });
      if (level === 0) entries.push({ kind: 'entries', index, width });
    }
  }
  return out.concat(entries);
}
