// An address that comes back with another MAC: a VM replaced by one with the same address (same
// node or another) is reached again at once by peers that talked to the old one, on its node and
// across the VXLAN, because the new guest and the other nodes' vRouters announce it (gratuitous
// ARP). Without that, peers keep the old MAC until their neighbour entry expires (30-50 s measured).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ip, listLinks, ping } from "../../lib/kernel/index.ts";
import { ANNOUNCER, ANNOUNCER_PORT } from "../../lab/dataplane/announce.ts";
import { nodeNetns } from "../../lab/dataplane/names.ts";
import type { VmPort } from "../../lab/dataplane/types.ts";
import { createTestLab, startAgents, vmNs } from "./dataplane-fixture.ts";
import type { FakeVn, TestLab } from "./dataplane-fixture.ts";

let lab: TestLab;
let red: FakeVn;

interface Vm {
  serverId: string;
  port: VmPort;
}

async function boot(node: string, address: string): Promise<Vm> {
  const port = lab.config.addVmi(red, address);
  const serverId = randomUUID();
  await lab.dp.vmRuntime.bootVm({ serverId, name: `vm-${address}`, node, ports: [port] });
  return { serverId, port };
}

async function replace(vm: Vm, node: string): Promise<Vm> {
  await lab.dp.vmRuntime.deleteVm(vm.serverId);
  lab.config.removeVmi(vm.port.vmiUuid);
  return boot(node, vm.port.ip);
}

/** One echo request, waiting up to 2 s for the reply: a peer that waits for its old neighbour entry to expire fails this. */
const reachesNow = (from: Vm, to: string) => ping(vmNs(lab, from.serverId), to, { count: 1, wait: 2 });

async function macCachedBy(peer: Vm, address: string): Promise<string | undefined> {
  const entries = await ip.json<{ dst: string; lladdr?: string }>(["neigh", "show", address], vmNs(lab, peer.serverId));
  return entries.find((e) => e.dst === address)?.lladdr;
}

beforeAll(async () => {
  lab = await createTestLab({ computeNodes: ["c1", "c2"], k8sNodes: [] });
  await lab.dp.start();
  await startAgents(lab);
  red = lab.config.addVn("red", 7, "10.7.1.0/24");
});

afterAll(async () => {
  await lab?.destroy();
});

describe("an address that comes back with a new MAC", () => {
  let target: Vm;
  let local: Vm;
  let remote: Vm;

  beforeAll(async () => {
    target = await boot("c1", "10.7.1.10");
    local = await boot("c1", "10.7.1.11");
    remote = await boot("c2", "10.7.1.12");
  });

  it("peers on the same node and across the VXLAN reach a VM replaced on the same node at once", async () => {
    for (const peer of [local, remote]) expect((await reachesNow(peer, target.port.ip)).ok).toBe(true);
    target = await replace(target, "c1");
    expect(target.port.mac).not.toBe(local.port.mac);
    for (const peer of [local, remote]) {
      expect((await reachesNow(peer, target.port.ip)).ok, `from ${peer.port.ip}`).toBe(true);
      expect(await macCachedBy(peer, target.port.ip)).toBe(target.port.mac);
    }
  });

  it("and a VM that comes back on another node", async () => {
    for (const peer of [local, remote]) expect((await reachesNow(peer, target.port.ip)).ok).toBe(true);
    target = await replace(target, "c2");
    for (const peer of [local, remote]) {
      expect((await reachesNow(peer, target.port.ip)).ok, `from ${peer.port.ip}`).toBe(true);
      expect(await macCachedBy(peer, target.port.ip)).toBe(target.port.mac);
    }
  });

  it("announcing leaves nothing on the nodes", async () => {
    for (const node of ["c1", "c2"]) {
      const names = (await listLinks(nodeNetns(lab.prefix, node))).map((l) => l.ifname);
      expect(names.filter((n) => n === ANNOUNCER || n === ANNOUNCER_PORT)).toEqual([]);
    }
  });
});
