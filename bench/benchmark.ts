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
  /** A ratio held against a target (written to the JSON report as it is). */
  ratio?: RatioCheck;
}

export interface RatioCheck {
  value: number;
  /** "<= 2" or ">= 2". */
  target: string;
  pass: boolean;
  /** The two numbers divided, e.g. "234.5 / 120.1 ms". */
  of: string;
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

/** A ratio row: `value` against `op target`, printed with PASS or MISS. */
export function ratioRow(what: string, numerator: number, denominator: number, op: "<=" | ">=", target: number, unit: string): Row {
  const value = numerator / denominator;
  const pass = Number.isFinite(value) && (op === "<=" ? value <= target : value >= target);
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(2));
  const ratio = { value, target: `${op} ${target}`, pass, of: `${fmt(numerator)} / ${fmt(denominator)} ${unit}` };
  return { what, note: `${value.toFixed(2)}  target ${ratio.target}  ${pass ? "PASS" : "MISS"}  (${ratio.of})`, ratio };
}
