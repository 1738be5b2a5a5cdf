/**
 * A small LRU cache of immutable full tiles, keyed by URL and bounded in bytes and entries.
 * Only full tiles may go in (C2SP tlog-tiles: their content never changes), and only after they
 * were verified (TileFetcher's `keep()`); every use is still verified against the checkpoint at hand.
 */
export class TileCache {
  private readonly map = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes = 16 * 1024 * 1024, private readonly maxEntries = 1024) {}

  get(key: string): Uint8Array | undefined {
    const value = this.map.get(key);
    if (value) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: Uint8Array): void {
    if (value.byteLength > this.maxBytes) return;
    const old = this.map.get(key);
    if (old) { this.bytes -= old.byteLength; this.map.delete(key); }
    this.map.set(key, value);
    this.bytes += value.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes && this.map.size <= this.maxEntries) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }

  get size(): number { return this.map.size; }
  get totalBytes(): number { return this.bytes; }
}
