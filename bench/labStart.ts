// Lab start: cold (fresh state dir, no kernel objects) and warm (restart over the stored state with
// the kernel still built), each until GET /lab/health says "ok"; and the stop that removes it all.
import type { LabHealth } from "../lab/lifecycle.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import type { BenchLab } from "./labs.ts";
import { timed } from "./stats.ts";

/** How long the daemon itself took (process start to healthy), without spawn and poll overhead. */
async function daemonMs(b: BenchLab): Promise<number> {
  const h = (await b.lab.api.get<LabHealth>("/lab/health")).body;
  if (!h.readyAt) throw new Error(`lab ${b.lab.name} reports no readyAt`);
  return Date.parse(h.readyAt) - Date.parse(h.startedAt);
}

export const labStart: Benchmark = {
  name: "lab",
  title: "Lab start (4 nodes: 2 compute, 2 k8s)",
  defaultN: 3,
  async run(ctx) {
    const cold: number[] = [];
    const warm: number[] = [];
    const coldDaemon: number[] = [];
    const warmDaemon: number[] = [];
    const stops: number[] = [];
    for (let i = 0; i < ctx.n; i++) {
      ctx.log(`lab start ${i + 1}/${ctx.n}`);
      const b = await startBenchLab("bench-start");
      try {
        cold.push(b.lab.startMs);
        coldDaemon.push(await daemonMs(b));
        warm.push(await b.lab.restart());
        warmDaemon.push(await daemonMs(b));
      } finally {
        stops.push((await timed(() => b.stop())).ms);
      }
    }
    const poll = "spawn to healthy, 100 ms health poll";
    return [
      timingRow("cold start", cold, poll),
      timingRow("  daemon's own startedAt..readyAt", coldDaemon),
      timingRow("warm restart (state + kernel kept)", warm, poll),
      timingRow("  daemon's own startedAt..readyAt", warmDaemon),
      timingRow("stop + wipe (daemon, netns, state dir)", stops),
    ];
  },
};
