// A small lab data plane for tests: its own netns prefix and sqlite file, a fake TF config
// (VNs and VMIs registered by the test), and helpers to plug a pod into a VN the way the NSM
// TF forwarder does. Everything it creates goes away in destroy(), even after failures.
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { listen, close } from "../../lib/http/server.ts";
import { createVeth, ip, netns, ping } from "../../lib/kernel/index.ts";
import { formatIpv4, net, parseIpv4 } from "../../lib/ipv4.ts";
import { createDataplane } from "../../lab/compute/index.ts";
import type { Dataplane } from "../../lab/compute/index.ts";
import type { VmPort } from "../../lab/dataplane/types.ts";
import { nodeNetns, podNetns, vmNetns } from "../../lab/dataplane/names.ts";
import { tapName } from "../../wire/vrouterAgent.ts";
import type { PortConfigSource, ResolvedPort } from "../../lab/vrouter/portConfig.ts";

export interface FakeVn {
  uuid: string;
  fqName: string;
  networkId: number;
  cidr: string;
  gateway: string;
}

export class FakeConfig implements PortConfigSource {
  readonly vns = new Map<string, FakeVn>();
  readonly vmis = new Map<string, { vnUuid: string; mac: string; ip: string }>();
  private listeners = new Set<() => void>();

  addVn(name: string, networkId: number, cidr: string): FakeVn {
    const [prefix, plen] = cidr.split("/");
    const n = net(parseIpv4(prefix!), Number(plen));
    const vn = { uuid: randomUUID(), fqName: `default-domain:admin:${name}`, networkId, cidr, gateway: formatIpv4(n.broadcast - 1) };
    this.vns.set(vn.uuid, vn);
    this.emit();
    return vn;
  }

  /** Registers a VMI with an address on `vn`; returns what Nova would hand to bootVm. */
  addVmi(vn: FakeVn, ipAddr: string, uuid: string = randomUUID()): VmPort {
    const mac = `02:${uuid.slice(0, 2)}:${uuid.slice(2, 4)}:${uuid.slice(4, 6)}:${uuid.slice(6, 8)}:${uuid.slice(9, 11)}`;
    this.vmis.set(uuid, { vnUuid: vn.uuid, mac, ip: ipAddr });
    this.emit();
    return { vmiUuid: uuid, vnUuid: vn.uuid, networkId: vn.networkId, mac, ip: ipAddr, prefixLength: Number(vn.cidr.split("/")[1]), gateway: vn.gateway };
  }

  removeVmi(uuid: string): void {
    this.vmis.delete(uuid);
    this.emit();
  }

  resolvePort(vmiUuid: string): ResolvedPort | undefined {
    const vmi = this.vmis.get(vmiUuid);
    const vn = vmi && this.vns.get(vmi.vnUuid);
    if (!vmi || !vn) return undefined;
    const plen = Number(vn.cidr.split("/")[1]);
    return {
      vmiUuid,
      vnUuid: vn.uuid,
      vnFqName: vn.fqName,
      networkId: vn.networkId,
      mac: vmi.mac,
      ip: vmi.ip,
      prefixLength: plen,
      gateway: vn.gateway,
      dnsServer: formatIpv4(parseIpv4(vn.gateway) - 1),
      vnGateways: [{ ip: vn.gateway, prefixLength: plen }],
    };
  }

  networkName(vnUuid: string): string | undefined {
    return this.vns.get(vnUuid)?.fqName;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

export interface TestLab {
  prefix: string;
  stateDir: string;
  db: DatabaseSync;
  config: FakeConfig;
  dp: Dataplane;
  /** Agent base URLs by node (listening on free ports). */
  agents: Map<string, string>;
  /** A second Dataplane over the same state, as after a daemon restart. */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

export async function createTestLab(opts: { computeNodes?: string[]; k8sNodes?: string[] } = {}): Promise<TestLab> {
  const prefix = `t${randomBytes(3).toString("hex").slice(0, 5)}`;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dataplane-test-"));
  const db = new DatabaseSync(path.join(stateDir, "lab.db"));
  const config = new FakeConfig();
  const instance = { name: prefix, prefix, computeNodes: opts.computeNodes ?? ["c1", "c2"], k8sNodes: opts.k8sNodes ?? ["k1", "k2"] };
  const lab: TestLab = {
    prefix,
    stateDir,
    db,
    config,
    dp: createDataplane({ instance, db, portConfig: config }),
    agents: new Map(),
    async restart() {
      await stopAgents(lab);
      await lab.dp.stop();
      lab.dp = createDataplane({ instance, db, portConfig: config });
      await lab.dp.start();
      await startAgents(lab);
    },
    async destroy() {
      await stopAgents(lab).catch(() => {});
      await lab.dp.destroy().catch(() => {});
      // Whatever the data plane missed (or a failed start left), by prefix.
      for (const ns of netns.list(`${prefix}-`)) await netns.del(ns);
      db.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return lab;
}

export async function startAgents(lab: TestLab): Promise<void> {
  for (const [node, server] of lab.dp.agentServers()) {
    if (!server.listening) lab.agents.set(node, `http://127.0.0.1:${await listen(server, 0)}`);
  }
}

async function stopAgents(lab: TestLab): Promise<void> {
  for (const server of lab.dp.agentServers().values()) if (server.listening) await close(server);
  lab.agents.clear();
}

export async function agentRequest(lab: TestLab, node: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${lab.agents.get(node)}${pathname}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export function portBody(port: VmPort, instanceId: string, systemName = tapName(port.vmiUuid), type = 1) {
  return {
    id: port.vmiUuid,
    "instance-id": instanceId,
    "ip-address": port.ip,
    "ip6-address": "",
    "vn-id": port.vnUuid,
    "display-name": "test",
    "vm-project-id": "",
    "mac-address": port.mac,
    "system-name": systemName,
    type,
    "rx-vlan-id": -1,
    "tx-vlan-id": -1,
  };
}

/**
 * Attaches a pod to a VN like the NSM TF forwarder: veth with the host end tap... on the pod's
 * node, POST /port to that node's agent, then inside the pod the VMI MAC, the address and a route
 * to the VN subnet via the gateway (no default route on that interface).
 */
export async function attachPod(lab: TestLab, pod: string, node: string, port: VmPort, ifname = "nsm-1"): Promise<{ status: number; body: unknown }> {
  const podNs = podNetns(lab.prefix, pod);
  await createVeth(tapName(port.vmiUuid), ifname, { netnsA: nodeNetns(lab.prefix, node), netnsB: podNs, macB: port.mac });
  await ip.batch([["link", "set", tapName(port.vmiUuid), "up"]], nodeNetns(lab.prefix, node));
  const res = await agentRequest(lab, node, "POST", "/port", portBody(port, randomUUID()));
  const subnet = `${formatIpv4(net(parseIpv4(port.ip), port.prefixLength).network)}/${port.prefixLength}`;
  await ip.batch(
    [
      ["addr", "replace", `${port.ip}/${port.prefixLength}`, "dev", ifname],
      ["link", "set", ifname, "up"],
      ["route", "replace", subnet, "via", port.gateway, "dev", ifname],
    ],
    podNs,
  );
  return res;
}

export const vmNs = (lab: TestLab, serverId: string) => vmNetns(lab.prefix, serverId);
export const podNs = (lab: TestLab, pod: string) => podNetns(lab.prefix, pod);

/** True when `from` gets all replies from `to` (2 packets, 1 s wait each). */
export async function reaches(fromNs: string, to: string): Promise<boolean> {
  return (await ping(fromNs, to, { count: 2, interval: 0.2, wait: 1 })).ok;
}

/** True when not a single reply comes back (3 packets). */
export async function isolated(fromNs: string, to: string): Promise<boolean> {
  return (await ping(fromNs, to, { count: 3, interval: 0.2, wait: 1 })).received === 0;
}
