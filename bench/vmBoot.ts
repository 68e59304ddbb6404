// VM boot through Nova: POST /servers until GET shows ACTIVE (scheduler, Neutron port in TF,
// vRouter port, VM namespace), then DELETE until GET answers 404. Sequential, polled every 10 ms.
import { timingRow } from "./benchmark.ts";
import type { Benchmark } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import { createNetwork, prefixLengthFor } from "./network.ts";
import { timed } from "./stats.ts";

const POLL = { intervalMs: 10, timeoutMs: 120_000 };

export const vmBoot: Benchmark = {
  name: "vm",
  title: "VM boot (Nova API, one port on a TF network)",
  defaultN: 10,
  async run(ctx) {
    const b = await startBenchLab("bench-vm");
    try {
      const { nova, glance } = b.openstack;
      const net = await createNetwork(b.tf, "bench-vm", "10.7.0.0", prefixLengthFor(ctx.n));
      const image = await glance.findImage("cirros-0.6.2");
      const flavor = await nova.findFlavor("m1.tiny");
      if (!image || !flavor) throw new Error("the lab has no cirros-0.6.2 image or m1.tiny flavor");
      await nova.microversion();

      const post: number[] = [];
      const active: number[] = [];
      const ids: string[] = [];
      for (let i = 0; i < ctx.n; i++) {
        const t0 = performance.now();
        const { id } = await nova.createServer({ name: `bench-vm-${i}`, imageRef: image.id, flavorRef: flavor.id, networks: [{ uuid: net.uuid }] });
        post.push(performance.now() - t0);
        ids.push(id);
        await nova.waitForStatus(id, "ACTIVE", POLL);
        active.push(performance.now() - t0);
      }
      ctx.log(`${ctx.n} servers ACTIVE; deleting`);
      const deleted: number[] = [];
      for (const id of ids) deleted.push((await timed(() => nova.deleteServer(id).then(() => nova.waitForDeleted(id, POLL)))).ms);
      const left = await nova.listServers();
      if (left.length > 0) throw new Error(`${left.length} servers still listed after deleting all`);
      return [
        timingRow("POST /servers answered (202)", post),
        timingRow("POST /servers -> ACTIVE", active),
        timingRow("DELETE -> GET 404", deleted),
      ];
    } finally {
      await b.stop();
    }
  },
};
