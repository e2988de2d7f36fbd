/** Bounded latency statistics: exact count and max, percentiles over a fixed-size reservoir sample. */
export class LatencyReservoir {
  private readonly samples: number[] = [];
  private readonly size: number;
  private seen = 0;
  private maxValue = 0;
  private state: number;

  constructor(size: number, seed = 0x9e3779b9) {
    this.size = size;
    this.state = seed >>> 0 || 1;
  }

  record(ms: number): void {
    this.seen++;
    if (ms > this.maxValue) this.maxValue = ms;
    if (this.samples.length < this.size) {
      this.samples.push(ms);
      return;
    }
    // Algorithm R: keep each of the n seen values with probability size/n
    const j = this.random() % this.seen;
    if (j < this.size) this.samples[j] = ms;
  }

  /** xorshift32: deterministic, no Math.random state shared with the application. */
  private random(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  snapshot(): LatencySnapshot {
    if (this.samples.length === 0) return { count: 0, p50: null, p90: null, p99: null, max: null };
    const sorted = [...this.samples].sort((a, b) => a - b);
    const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return { count: this.seen, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(this.maxValue) };
  }
}

export interface LatencySnapshot {
  /** Latencies recorded in all (the percentiles use a bounded sample of them). */
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Upper bounds (ms) of the latency histogram's buckets, as Prometheus histograms want them: fixed. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Latency counts per fixed bucket, exact (no sampling), for /metrics. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
  private sum = 0;
  private count = 0;

  record(ms: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
    this.sum += ms;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let running = 0;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      running += this.counts[i]!;
      cumulative.push(running);
    }
    return { bucketsMs: LATENCY_BUCKETS_MS, cumulative, sumMs: round(this.sum), count: this.count };
  }
}

export interface HistogramSnapshot {
  /** Upper bounds, ms. */
  bucketsMs: readonly number[];
  /** Observations at or below each bound (the +Inf bucket is `count`). */
  cumulative: number[];
  sumMs: number;
  count: number;
}
