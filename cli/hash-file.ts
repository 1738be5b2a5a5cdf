/**
 * Streaming SHA-256 of a file (DESIGN.md section 7: multi-GB files in constant memory at disk
 * speed). node:crypto does the hashing; a large read buffer keeps the per-chunk overhead of the
 * stream machinery far below the cost of the hash itself. On a terminal, a progress bar goes to
 * stderr so stdout stays clean for scripts.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

/** 4 MiB reads: large enough that sha256 dominates, small enough to stay cache-friendly. */
export const HASH_READ_SIZE = 4 * 1024 * 1024;
/** Below this size the bar would only flicker. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

export interface HashOptions {
  /** Where the progress bar goes; defaults to process.stderr, drawn only when it is a TTY. */
  progress?: NodeJS.WriteStream | null;
}

/** Lowercase hex SHA-256 of the file's bytes. Rejects with the Node fs error (naming the path). */
export async function sha256File(path: string, options: HashOptions = {}): Promise<string> {
  const info = await stat(path);
  if (info.isDirectory()) {
    const error: NodeJS.ErrnoException = new Error(`EISDIR: ${path}`);
    Object.assign(error, { code: 'EISDIR', syscall: 'read', path });
    throw error;
  }
  const out = options.progress === undefined ? process.stderr : options.progress;
  const bar = out && out.isTTY && info.size >= PROGRESS_MIN_BYTES ? new ProgressBar(out, basename(path), info.size) : null;
  const hash = createHash('sha256');
  const stream = createReadStream(path, { highWaterMark: HASH_READ_SIZE });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bar?.advance(chunk.length);
    }
  } finally {
    bar?.finish();
  }
  return hash.digest('hex');
}

/** A single-line bar redrawn at most ten times a second. */
class ProgressBar {
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();
  constructor(private readonly out: NodeJS.WriteStream, private readonly label: string, private readonly total: number) {}

  advance(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (now - this.lastDraw >= 100) { this.lastDraw = now; this.draw(); }
  }

  finish(): void {
    this.draw();
    this.out.write('\n');
  }

  private draw(): void {
    const width = 30;
    const fraction = this.total === 0 ? 1 : Math.min(1, this.done / this.total);
    const filled = Math.round(fraction * width);
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
    const rate = this.done / seconds / (1024 * 1024);
    const line = `hashing ${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${rate.toFixed(0)} MiB/s`;
    this.out.write(`\r${line}`);
  }
}
