// `pulumi up` and `pulumi destroy` wall time (Automation API, local file backend, as test/e2e
// runs them) of the reference scenario examples/red-blue against a bench lab, next to a stack of
// the same number of resources that do nothing: the engine's own floor, and the ratio.
import { join } from "node:path";
import { repoRoot } from "../scripts/pulumiEnv.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark, Row } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import type { BenchLab } from "./labs.ts";
import { benchStack, commandSummary, pulumiInstalled } from "./pulumiStack.ts";
import { summarize } from "./stats.ts";

const RED_BLUE = join(repoRoot, "examples", "red-blue");
const NOOP = join(repoRoot, "bench", "programs", "noop");
/** red-blue's resource count (stack included) per test/e2e, used when red-blue itself cannot run. */
const RED_BLUE_RESOURCES = 20;

interface Cycles {
  up: number[];
  destroy: number[];
  /** Resources the last up created (the stack resource included). */
  created: number;
}

async function cycles(b: BenchLab, workDir: string, configDir: string, n: number, config: Record<string, string> = {}): Promise<Cycles> {
  const s = await benchStack(b.lab, workDir, configDir, config);
  try {
    const out: Cycles = { up: [], destroy: [], created: 0 };
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      const up = await s.stack.up();
      out.up.push(performance.now() - t0);
      if (up.summary.result !== "succeeded") throw new Error(`up ended ${up.summary.result}`);
      out.created = up.summary.resourceChanges?.create ?? 0;
      t0 = performance.now();
      const destroy = await s.stack.destroy();
      out.destroy.push(performance.now() - t0);
      if (destroy.summary.result !== "succeeded") throw new Error(`destroy ended ${destroy.summary.result}`);
    }
    return out;
  } finally {
    await s.remove();
  }
}

const ratio = (a: number[], b: number[]) => `${(summarize(a).mean / summarize(b).mean).toFixed(1)}x (means)`;

export const pulumiUp: Benchmark = {
  name: "pulumi",
  title: "Pulumi up / destroy (Automation API, local backend; up runs --skip-preview)",
  defaultN: 1,
  async run(ctx) {
    if (!pulumiInstalled()) return [{ what: "pulumi up / destroy", skipped: "no Pulumi CLI in .tools/bin; run `npm run setup`" }];
    const b = await startBenchLab("bench-pulumi");
    try {
      const rows: Row[] = [];
      let redBlue: Cycles | undefined;
      ctx.log("examples/red-blue: up, destroy");
      try {
        redBlue = await cycles(b, RED_BLUE, join(repoRoot, ".state", "stacks", "red-blue"), ctx.n);
        rows.push(timingRow(`red-blue up (${redBlue.created} resources)`, redBlue.up), timingRow("red-blue destroy", redBlue.destroy));
      } catch (e) {
        rows.push({ what: "red-blue up / destroy", skipped: `examples/red-blue does not run yet: ${commandSummary(e)}` });
      }
      const resources = redBlue?.created || RED_BLUE_RESOURCES;
      ctx.log(`no-op stack of ${resources} resources: up, destroy`);
      // The stack itself is one of the resources up reports.
      const noop = await cycles(b, NOOP, join(repoRoot, ".state", "stacks", "bench-noop"), ctx.n, { "noop:count": String(resources - 1) });
      rows.push(timingRow(`no-op up (${noop.created} resources)`, noop.up, "engine floor"), timingRow("no-op destroy", noop.destroy, "engine floor"));
      if (redBlue) {
        rows.push({ what: "red-blue / no-op, up", note: ratio(redBlue.up, noop.up) }, { what: "red-blue / no-op, destroy", note: ratio(redBlue.destroy, noop.destroy) });
      }
      return rows;
    } finally {
      await b.stop();
    }
  },
};
