/** A HashSource backed by hash tiles (the server's LevelDB, a client's HTTP fetches). STUB. */
import type { Sha256 } from './hash.js';
import type { HashSource } from './proof.js';
/** Returns the bytes of hash tile (level, index) as stored for a tree of `size` leaves (full or the partial width), or undefined. */
export type TileReader = (level: number, index: number, width: number) => Promise<Uint8Array | undefined>;
/** Hash source over the tiles of a tree of `size` leaves; hashes at levels between tile levels are computed inside the tile. */
export declare function tileHashSource(size: number, readTile: TileReader, sha256?: Sha256): HashSource;
