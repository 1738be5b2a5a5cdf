import type { WorkerHeap } from './build-pool.js';

/**
 * The server's Prometheus metrics, kept as plain counters and fixed-bucket histograms and written
 * in the Prometheus text exposition format (version 0.0.4) for `GET /metrics`.
 */

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]!) this.counts[i]!++;
  }
  lines(name: string): string[] {
    const out = this.bounds.map((b, i) => `${name}_bucket{le="${b}"} ${this.counts[i]}`);
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`);
    return out;
  }
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class Metrics {
  /** Current log size, set by the sequencer. */
  logSize = 0;
  /** Submission body bytes in flight (reserved from the byte budget), read when rendering. */
  inflightBytes: () => number = () => 0;
  /** Bytes LevelDB reports for its memtables and block cache, read when rendering. */
  storeMemoryBytes: () => number = () => 0;
  /** Each build worker's heap (bytes) as of its last reply, read when rendering. */
  workerHeaps: () => readonly WorkerHeap[] = () => [];
  readonly submissions = new Map<string, number>(); // result -> count
  readonly requests = new Map<string, number>(); // route \0 status -> count
  readonly batchSize = new Histogram([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  readonly commitSeconds = new Histogram([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1]);
  readonly verifySeconds = new Histogram([0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5]);
  /** Server-side time of proof requests, from routing to the last byte handed to the socket. */
  readonly proofSeconds = new Histogram([0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05]);

  countSubmission(result: 'created' | 'duplicate' | 'rejected' | 'failed'): void {
    this.submissions.set(result, (this.submissions.get(result) ?? 0) + 1);
  }

  countRequest(route: string, status: number): void {
    const key = `${route}\0${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  render(): string {
    const lines: string[] = [];
    const head = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    head('lafs_log_entries', 'gauge', 'Entries in the latest signed checkpoint.');
    lines.push(`lafs_log_entries ${this.logSize}`);
    head('lafs_inflight_bytes', 'gauge', 'Submission body bytes received or announced and not yet answered.');
    lines.push(`lafs_inflight_bytes ${this.inflightBytes()}`);
    // The main thread's isolate (each build worker has its own heap, not counted here) and the
    // whole process's resident memory, with prom-client's names.
    const memory = process.memoryUsage();
    head('process_resident_memory_bytes', 'gauge', 'Resident memory of the server process.');
    lines.push(`process_resident_memory_bytes ${memory.rss}`);
    head('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use on the main thread.');
    lines.push(`nodejs_heap_size_used_bytes ${memory.heapUsed}`);
    head('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap reserved on the main thread.');
    lines.push(`nodejs_heap_size_total_bytes ${memory.heapTotal}`);
    head('nodejs_external_memory_bytes', 'gauge', 'Memory outside the V8 heap held by main-thread objects (Buffers among them).');
    lines.push(`nodejs_external_memory_bytes ${memory.external}`);
    head('lafs_leveldb_memory_bytes', 'gauge', "LevelDB's approximate memory use (memtables and block cache).");
    lines.push(`lafs_leveldb_memory_bytes ${this.storeMemoryBytes()}`);
    const workers = this.workerHeaps();
    const perWorker = (name: string, help: string, value: (h: WorkerHeap) => number) => {
      head(name, 'gauge', help);
      workers.forEach((h, i) => lines.push(`${name}{worker="${i}"} ${value(h)}`));
    };
    perWorker('lafs_worker_heap_size_used_bytes', "V8 heap in use in a build worker, as of its last reply.", (h) => h.used);
    perWorker('lafs_worker_heap_size_total_bytes', "V8 heap reserved by a build worker, as of its last reply.", (h) => h.total);
    perWorker('lafs_worker_external_memory_bytes', "Memory outside the V8 heap held by a build worker's objects, as of its last reply.", (h) => h.external);
    head('lafs_submissions_total', 'counter', 'Submissions by outcome.');
    for (const [result, n] of this.submissions) lines.push(`lafs_submissions_total{result="${labelValue(result)}"} ${n}`);
    head('lafs_http_requests_total', 'counter', 'HTTP requests by route and status.');
    for (const [key, n] of this.requests) {
      const [route, status] = key.split('\0');
      lines.push(`lafs_http_requests_total{route="${labelValue(route!)}",status="${status}"} ${n}`);
    }
    head('lafs_batch_size', 'histogram', 'New entries per synced sequencing batch.');
    lines.push(...this.batchSize.lines('lafs_batch_size'));
    head('lafs_commit_seconds', 'histogram', 'Time to sign and durably write one batch.');
    lines.push(...this.commitSeconds.lines('lafs_commit_seconds'));
    head('lafs_verify_seconds', 'histogram', 'Time to build and verify one submission in a worker.');
    lines.push(...this.verifySeconds.lines('lafs_verify_seconds'));
    head('lafs_proof_seconds', 'histogram', 'Server-side time to answer one inclusion or consistency proof request.');
    lines.push(...this.proofSeconds.lines('lafs_proof_seconds'));
    return lines.join('\n') + '\n';
  }
}
