// `npm run bench`: the project's speed, measured and printed (never asserted in tests).
// Each benchmark builds its own lab instance (own kernel prefix, temp state dir) and removes it;
// Ctrl-C removes whatever is still built. Results: tables on stdout, JSON in .state/bench/.
import os from "node:os";
import { parseArgs, samplesFor, UsageError, USAGE } from "./args.ts";
import type { Benchmark } from "./benchmark.ts";
import { exitCleanlyOnSignals, releaseAll } from "./cleanup.ts";
import { labStart } from "./labStart.ts";
import { leftoverNamespaces, usedPrefixes } from "./labs.ts";
import { nsmLatency } from "./nsmLatency.ts";
import { nsmSecurity } from "./nsmSecurity.ts";
import { pingRtt } from "./pingRtt.ts";
import { podStart } from "./podStart.ts";
import { nsmWorkload } from "./nsmWorkload.ts";
import { pulumiUp } from "./pulumiUp.ts";
import { formatTable, runRecord, writeRecord } from "./report.ts";
import type { BenchResult } from "./report.ts";
import { vmBoot } from "./vmBoot.ts";
import { wipeKernel } from "../lab/lifecycle.ts";

const BENCHMARKS: Benchmark[] = [labStart, vmBoot, podStart, nsmWorkload, nsmLatency, nsmSecurity, pingRtt, pulumiUp];

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const load1 = () => os.loadavg()[0]!;

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2), BENCHMARKS.map((b) => b.name));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("npm run bench builds network namespaces: run it as root\n");
    return 1;
  }
  exitCleanlyOnSignals(log, () => `ip netns list for ${[...usedPrefixes].map((p) => `${p}-*`).join(", ") || "bench namespaces"}`);

  const startedAt = new Date();
  const selected = BENCHMARKS.filter((b) => !opts.only || opts.only.includes(b.name));
  const results: BenchResult[] = [];
  for (const bench of selected) {
    const n = samplesFor(opts, bench.name, bench.defaultN);
    log(`${bench.name}: ${bench.title}, n=${n} (load ${load1().toFixed(2)})`);
    const result: BenchResult = { name: bench.name, title: bench.title, n, seconds: 0, load: { before: load1(), after: 0 }, rows: [] };
    const t0 = performance.now();
    try {
      result.rows = await bench.run({ n, concurrency: opts.concurrency, log: (m) => log(`${bench.name}: ${m}`) });
    } catch (e) {
      result.error = (e as Error).message.split("\n")[0] ?? String(e);
      log(`${bench.name} failed: ${(e as Error).stack ?? e}`);
    } finally {
      await releaseAll(log);
    }
    result.seconds = (performance.now() - t0) / 1000;
    result.load.after = load1();
    results.push(result);
    process.stdout.write(`\n${formatTable(result)}\n`);
  }

  const left = leftoverNamespaces();
  if (left.length > 0) {
    log(`namespaces left behind, removing: ${left.join(", ")}`);
    for (const p of usedPrefixes) await wipeKernel(p);
  } else {
    log(`no namespace of this run is left (prefixes ${[...usedPrefixes].join(", ") || "none"})`);
  }
  const file = writeRecord(
    runRecord(startedAt, { only: opts.only, n: Object.fromEntries(opts.n), concurrency: opts.concurrency }, results),
  );
  process.stdout.write(`\nresults: ${file}\n`);
  return results.some((r) => r.error) || left.length > 0 ? 1 : 0;
}

process.exitCode = await main();
