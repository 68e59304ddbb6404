// What a benchmark is and what it reports.
import { summarize } from "./stats.ts";
import type { Summary } from "./stats.ts";

/** One line of a result table. Timings are in milliseconds. */
export interface Row {
  what: string;
  /** Samples behind the numbers (e.g. connections, boots, packets received). */
  n?: number;
  timing?: Summary;
  /** Anything the timing columns cannot say: throughput, ratio, mdev, loss. */
  note?: string;
  /** Set when this line could not be measured, with the reason. */
  skipped?: string;
}

export interface BenchContext {
  /** Samples to take (the benchmark's default unless --n says otherwise). */
  n: number;
  /** In-flight operations for the concurrent variants (0 skips them). */
  concurrency: number;
  /** Progress for the person watching (stderr). */
  log(msg: string): void;
}

export interface Benchmark {
  /** The name --only selects. */
  name: string;
  title: string;
  defaultN: number;
  run(ctx: BenchContext): Promise<Row[]>;
}

export function timingRow(what: string, ms: number[], note?: string): Row {
  return { what, n: ms.length, timing: summarize(ms), ...(note !== undefined ? { note } : {}) };
}
