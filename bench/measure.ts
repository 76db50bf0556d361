import { performance } from 'node:perf_hooks';

// The figures of one side of a row across runs, summarized as the table prints them.
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), min: sorted[0], max: sorted[sorted.length - 1], runs: values };
}

// Linear interpolation between the closest ranks; `sorted` must be ascending.
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export function ascending(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export async function elapsedMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

// One latency sample per call, calls made one after another.
export async function latencies(work: () => Promise<unknown>, iterations: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) samples.push(await elapsedMs(work));
  return samples;
}

export interface Paired<T> {
  ours: T[];
  reference: T[];
}

// Runs both sides `runs` times, alternating which goes first, so that a warming cache or a
// background flush does not always favour the same side.
export async function pairedRuns<T>(runs: number, ours: (run: number) => Promise<T>, reference: (run: number) => Promise<T>): Promise<Paired<T>> {
  const result: Paired<T> = { ours: [], reference: [] };
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      result.ours.push(await ours(run));
      result.reference.push(await reference(run));
    } else {
      result.reference.push(await reference(run));
      result.ours.push(await ours(run));
    }
  }
  return result;
}
