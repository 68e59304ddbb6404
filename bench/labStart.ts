// Lab start: cold (fresh state dir, no kernel objects) and warm (restart over the stored state with
// the kernel still built), each until GET /lab/health says "ok"; and the stop that removes it all.
import fs from "node:fs";
import path from "node:path";
import type { LabHealth } from "../lab/lifecycle.ts";
import { processes } from "../lib/processes.ts";
import { timingRow } from "./benchmark.ts";
import type { BenchContext, Benchmark, Row } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import type { BenchLab } from "./labs.ts";
import { timed } from "./stats.ts";

/** How long the daemon itself took (process start to healthy), without spawn and poll overhead. */
async function daemonMs(b: BenchLab): Promise<number> {
  const h = (await b.lab.api.get<LabHealth>("/lab/health")).body;
  if (!h.readyAt) throw new Error(`lab ${b.lab.name} reports no readyAt`);
  return Date.parse(h.readyAt) - Date.parse(h.startedAt);
}

/** Resident memory (MB) of the control plane's processes: those running in the instance's kube dir. */
function controlPlaneRss(b: BenchLab): Record<string, number> {
  const dir = path.join(b.lab.stateDir, "kube");
  const out: Record<string, number> = {};
  for (const p of processes().filter((x) => x.cwd === dir)) {
    const status = fs.readFileSync(`/proc/${p.pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const name = path.basename(p.cmdline.split(" ").find((a) => /etcd|kube-/.test(path.basename(a))) ?? "?");
    out[name] = Math.round(kb / 1024);
  }
  return out;
}

async function startRows(ctx: BenchContext, kubernetes: boolean): Promise<Row[]> {
  const cold: number[] = [];
  const warm: number[] = [];
  const coldDaemon: number[] = [];
  const warmDaemon: number[] = [];
  const stops: number[] = [];
  let rss: Record<string, number> = {};
  const what = kubernetes ? "with Kubernetes" : "without Kubernetes";
  for (let i = 0; i < ctx.n; i++) {
    ctx.log(`lab start ${what} ${i + 1}/${ctx.n}`);
    const b = await startBenchLab("bench-start", { kubernetes });
    try {
      cold.push(b.lab.startMs);
      coldDaemon.push(await daemonMs(b));
      warm.push(await b.lab.restart());
      warmDaemon.push(await daemonMs(b));
      if (kubernetes) rss = controlPlaneRss(b);
    } finally {
      stops.push((await timed(() => b.stop())).ms);
    }
  }
  const poll = "spawn to healthy, 100 ms health poll";
  const memory = Object.entries(rss).map(([k, v]) => `${k} ${v}`).join(", ");
  return [
    timingRow(`cold start, ${what}`, cold, poll),
    timingRow("  daemon's own startedAt..readyAt", coldDaemon),
    timingRow(`warm restart, ${what} (state + kernel kept)`, warm, poll),
    timingRow("  daemon's own startedAt..readyAt", warmDaemon),
    timingRow("stop + wipe (daemon, netns, state dir)", stops, kubernetes && memory ? `control plane RSS MB: ${memory}` : undefined),
  ];
}

export const labStart: Benchmark = {
  name: "lab",
  title: "Lab start (4 nodes: 2 compute, 2 k8s), without and with the Kubernetes control plane",
  defaultN: 3,
  async run(ctx) {
    return [...(await startRows(ctx, false)), ...(await startRows(ctx, true))];
  },
};
