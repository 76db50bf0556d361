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

// One latency sample per call, calls made one after another; at most `budgetMs` of calls, at
// least one (for the boilerplate side, where one call can take seconds).
export async function latencies(work: () => Promise<unknown>, iterations: number, budgetMs = Infinity): Promise<number[]> {
  const samples: number[] = [];
  let spent = 0;
  for (let i = 0; i < iterations && spent < budgetMs; i++) {
    samples.push(await elapsedMs(work));
    spent += samples[samples.length - 1];
  }
  return samples;
}

// What the boilerplate side of a row does per run, and how long all its runs may take.
export interface BoilerplateSide<T> {
  run: (run: number) => Promise<T>;
  budgetSeconds: number;
}

export interface Sides<T> {
  ours: T[];
  reference: T[];
  // Fewer than the runs when the time budget ran out or the side failed; boilerplateNote says so.
  boilerplate: T[];
  boilerplateNote?: string;
}

// Runs every side `runs` times, rotating which goes first, so that a warming cache or a
// background flush does not always favour the same side. The boilerplate side stops once its
// runs have taken `budgetSeconds` (after one run at least), and a failure there only ends that
// side: the rows keep ours and the reference.
export async function rotatedRuns<T>(
  runs: number,
  ours: (run: number) => Promise<T>,
  reference: (run: number) => Promise<T>,
  boilerplate: BoilerplateSide<T>,
): Promise<Sides<T>> {
  const result: Sides<T> = { ours: [], reference: [], boilerplate: [] };
  let spentMs = 0;
  let failed = false;
  const sides: ((run: number) => Promise<void>)[] = [
    async (run) => {
      result.ours.push(await ours(run));
    },
    async (run) => {
      result.reference.push(await reference(run));
    },
    async (run) => {
      if (failed || spentMs >= boilerplate.budgetSeconds * 1000) return;
      const start = performance.now();
      try {
        result.boilerplate.push(await boilerplate.run(run));
      } catch (error) {
        failed = true;
        result.boilerplateNote = `failed: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`;
      }
      spentMs += performance.now() - start;
    },
  ];
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < sides.length; i++) await sides[(run + i) % sides.length](run);
  }
  if (!failed && result.boilerplate.length < runs) {
    result.boilerplateNote = `${result.boilerplate.length} of ${runs} runs (time budget ${boilerplate.budgetSeconds} s)`;
  }
  return result;
}
