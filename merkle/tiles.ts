/** C2SP tlog-tiles coordinates and paths. STUB: signatures are the contract. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** A hash tile: `hashes` holds width*32 bytes, the hashes at tree level level*8, indexes index*256 .. +width-1. */
export interface HashTile { level: number; index: number; width: number; hashes: Uint8Array }
export type TileRef =
  | { kind: 'hash'; level: number; index: number; width: number } // width 256 = full tile (no .p/)
  | { kind: 'entries'; index: number; width: number };
/** "tile/0/x001/x234/067.p/5" or "tile/entries/067" (no leading slash). */
export declare function tilePath(ref: TileRef): string;
/** Parses a path (with or without leading "/", starting at "tile/"); throws LafsError('bad-tile') naming what is non-canonical. */
export declare function parseTilePath(path: string): TileRef;
/** Width of tile (level, index) in a tree of `size` leaves; 0 if the tile does not exist yet. */
export declare function tileWidth(level: number, index: number, size: number): number;
/** Every tile (hash tiles of all levels, plus entry tiles) of a tree of `size` leaves whose content differs from a tree of `oldSize`. */
export declare function changedTiles(oldSize: number, size: number): TileRef[];
