// Result tables for the terminal and the JSON record in .state/bench/ that runs are compared by.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "../scripts/pulumiEnv.ts";
import type { Row } from "./benchmark.ts";

export interface BenchResult {
  name: string;
  title: string;
  n: number;
  seconds: number;
  /** 1-minute load average before and after: other work on the machine skews the numbers. */
  load: { before: number; after: number };
  rows: Row[];
  error?: string;
}

function ms(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return "-";
  if (v < 1) return v.toFixed(3);
  if (v < 100) return v.toFixed(2);
  return v.toFixed(1);
}

export function formatTable(r: BenchResult): string {
  const head = `== ${r.title} ==  n=${r.n}, ${r.seconds.toFixed(1)} s, load ${r.load.before.toFixed(2)} -> ${r.load.after.toFixed(2)} on ${os.availableParallelism()} cpus`;
  const header = ["what", "n", "p50 ms", "p95 ms", "mean ms", "note"];
  const lines = r.rows.map((row) =>
    row.skipped !== undefined
      ? [row.what, "", "", "", "", `SKIPPED: ${row.skipped}`]
      : row.timing === undefined
        ? [row.what, "", "", "", "", row.note ?? ""]
        : [row.what, String(row.n ?? ""), ms(row.timing.p50), ms(row.timing.p95), ms(row.timing.mean), row.note ?? ""],
  );
  if (r.error) lines.push(["(benchmark failed)", "", "", "", "", r.error]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (i === header.length - 1 ? 0 : l[i]!.length))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : i === cells.length - 1 ? c : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [head, fmt(header), ...lines.map(fmt)].join("\n");
}

/** The checked-out commit, read from .git (no git process needed). */
function gitCommit(): string | undefined {
  try {
    const gitDir = path.join(repoRoot, ".git");
    const head = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
    if (!head.startsWith("ref: ")) return head;
    const ref = head.slice(5);
    const loose = path.join(gitDir, ref);
    if (fs.existsSync(loose)) return fs.readFileSync(loose, "utf8").trim();
    const packed = fs.readFileSync(path.join(gitDir, "packed-refs"), "utf8").split("\n").find((l) => l.endsWith(` ${ref}`));
    return packed?.split(" ")[0];
  } catch {
    return undefined;
  }
}

export interface RunRecord {
  startedAt: string;
  finishedAt: string;
  commit: string | undefined;
  machine: { cpus: number; cpuModel: string | undefined; memoryGiB: number; kernel: string; node: string };
  options: { only: string[] | undefined; n: Record<string, number>; concurrency: number };
  results: BenchResult[];
}

export function runRecord(startedAt: Date, options: RunRecord["options"], results: BenchResult[]): RunRecord {
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(),
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: os.release(),
      node: process.version,
    },
    options,
    results,
  };
}

/** Writes .state/bench/<start time>.json and returns its path. */
export function writeRecord(record: RunRecord): string {
  const dir = path.join(repoRoot, ".state", "bench");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${record.startedAt.replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`);
  // Microseconds are all the precision a timing here has.
  const round = (_key: string, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);
  fs.writeFileSync(file, JSON.stringify(record, round, 2) + "\n");
  return file;
}
