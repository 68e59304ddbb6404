// The kernel floor of an NSM connection: the interface work a forwarder does for a pod, done
// directly in one `ip -n <pod> -batch -` run (veth pair with its host end straight into the node's
// namespace, rename, MAC, address, route, up), and its removal in one run. Laid out like the nsm
// benchmark's connections (n interfaces over 4 pod namespaces on 2 node namespaces, all built, then
// all removed), so a forwarder's Request and Close can be read as multiples of it.
import { addressLine, ip, linkDelLine, linkMacLine, linkRenameLine, linkSetLines, routeLine, vethAddLine } from "../lib/kernel/index.ts";
import { scratchNamespaces } from "./labs.ts";
import { runPool } from "./stats.ts";

const PODS = 4;
const NODES = 2;

export interface FloorSamples {
  create: number[];
  remove: number[];
}

/** One interface's creation, as lines of one batch run in the pod's namespace. */
export function floorCreateLines(i: number, node: string, ifName: string, address: string, subnet: string): string[][] {
  const tmp = `flt${i}`;
  const mac = `02:fe:00:${[i >> 16, i >> 8, i].map((b) => (b & 0xff).toString(16).padStart(2, "0")).join(":")}`;
  return [
    vethAddLine({ name: tmp }, { name: `flh${i}`, netns: node }),
    linkRenameLine(tmp, ifName),
    linkMacLine(ifName, mac),
    addressLine("replace", ifName, address),
    ...linkSetLines(ifName, { up: true }),
    routeLine("replace", { dst: subnet, dev: ifName, src: address.split("/")[0]!, scope: "link" }),
  ];
}

/** Builds then removes `n` interfaces, `concurrency` at a time; answers each run's milliseconds. */
export async function measureKernelFloor(n: number, concurrency = 1): Promise<FloorSamples> {
  const scratch = scratchNamespaces();
  try {
    const nodes: string[] = [];
    for (let k = 0; k < NODES; k++) nodes.push(await scratch.netns(`node${k + 1}`));
    const pods: string[] = [];
    for (let p = 0; p < PODS; p++) pods.push(await scratch.netns(`pod${p}`));
    const podOf = (i: number) => pods[i % PODS]!;
    const ifName = (i: number) => `nsm-${Math.floor(i / PODS) + 1}`;
    // 10.62.0.0/16 holds any n the nsm benchmark accepts.
    const address = (i: number) => `10.62.${(i + 2) >> 8}.${(i + 2) & 0xff}/16`;
    const create = await runPool(n, concurrency, (i) => ip.batch(floorCreateLines(i, nodes[(i % PODS) % NODES]!, ifName(i), address(i), "10.62.0.0/16"), podOf(i)));
    const remove = await runPool(n, concurrency, (i) => ip.batch([linkDelLine(ifName(i))], podOf(i)));
    return { create, remove };
  } finally {
    await scratch.release();
  }
}
