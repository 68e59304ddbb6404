// Automation API plumbing shared by the e2e tests: a private lab with a stack of an in-repo
// program on it (harness/pulumiStack.ts) and their removal afterwards; clients of the lab's
// APIs and the "destroy leaves nothing" check. Every lab here runs Kubernetes: the programs'
// pods are Kubernetes pods (through @pulumi/kubernetes).
import { afterAll, beforeAll, expect } from "vitest";
import * as ip from "../../lib/kernel/ip.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { labClients } from "../../harness/labClients.ts";
import type { LabClients } from "../../harness/labClients.ts";
import { labStack } from "../../harness/pulumiStack.ts";
import type { LabStack } from "../../harness/pulumiStack.ts";
import type { KubernetesClient } from "../../wire/kubernetes.ts";
import { kubeInventory, labKube } from "../../harness/kube.ts";

/** What a test file runs against; the fields are set once its beforeAll has run. */
export interface LabStackFixture {
  lab: TestLab;
  e2e: LabStack;
  api: LabClients;
  /** The lab's API server, through its admin kubeconfig. */
  kube: KubernetesClient;
  /** The lab's inventory before the stack did anything (for expectNothingLeft). */
  before: LabInventory;
}

/**
 * Registers the file's beforeAll and afterAll: a private lab, a fresh stack of the program in
 * `workDir` on it (with `config`), clients of the lab's APIs and its inventory; afterwards the
 * stack is removed (destroying what is left) and the lab stopped, even when a step failed.
 */
export function labStackFixture(workDir: string, stackConfigDir: string, config: Record<string, string> = {}): LabStackFixture {
  const f = {} as LabStackFixture;
  beforeAll(async () => {
    f.lab = await startLab({ kubernetes: true });
    f.e2e = await labStack(f.lab, workDir, stackConfigDir, config);
    f.api = labClients(f.lab);
    f.kube = labKube(f.lab);
    f.before = await labInventory(f.lab, f.api);
  }, LAB_TIMEOUT);
  afterAll(async () => {
    try {
      await f.e2e?.remove();
    } finally {
      await f.lab?.stop();
    }
  }, LAB_TIMEOUT);
  return f;
}

/** The error text of a failed Automation API command (stdout and stderr carry the diagnostics). */
export function commandOutput(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string };
  return `${e.message ?? ""}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`;
}

const TF_TYPES = ["virtual-network", "virtual-machine", "virtual-machine-interface", "instance-ip"] as const;

/** Everything a stack can leave behind, per API and in the kernel (netns -> link names). */
export interface LabInventory {
  tf: Record<(typeof TF_TYPES)[number], string[]>;
  /** virtual-router fq_name -> the virtual-machines it hosts. */
  routerRefs: Record<string, string[]>;
  servers: string[];
  neutronNetworks: string[];
  neutronPorts: string[];
  services: string[];
  connections: string[];
  /** Kubernetes pods ("<namespace>/<name>") outside the system namespaces. */
  pods: string[];
  /** Kubernetes namespaces outside the system ones. */
  namespaces: string[];
  /** node -> the port ids its vRouter agent holds (TF's port API cannot list them; the lab topology shows them). */
  vrouterPorts: Record<string, string[]>;
  kernel: Record<string, string[]>;
}

const sorted = (xs: string[]) => [...xs].sort();

export async function labInventory(lab: TestLab, c: LabClients): Promise<LabInventory> {
  const tf = Object.fromEntries(
    await Promise.all(TF_TYPES.map(async (t) => [t, sorted((await c.tf.list(t)).map((o) => `${o.fq_name.join(":")} ${o.uuid}`))] as const)),
  ) as LabInventory["tf"];
  const routers = await c.tf.listDetail("virtual-router", { fields: ["virtual_machine_refs"] });
  const routerRefs = Object.fromEntries(
    routers.map((r) => [r.fq_name.join(":"), sorted(((r.virtual_machine_refs as Array<{ uuid: string }> | undefined) ?? []).map((x) => x.uuid))]),
  );
  const [servers, networks, ports, services, connections, k8s] = await Promise.all([
    c.openstack.nova.listServers(),
    c.openstack.neutron.listNetworks(),
    c.openstack.neutron.listPorts(),
    c.nsm.listNetworkServices(),
    c.nsm.listConnections(),
    kubeInventory(labKube(lab)),
  ]);
  const vrouterPorts = Object.fromEntries((await lab.topology()).nodes.map((n) => [n.name, sorted((n.vrouterPorts ?? []).map((p) => p.id))]));
  const kernel: Record<string, string[]> = {};
  for (const ns of sorted(lab.namespaces())) kernel[ns] = sorted((await ip.json<{ ifname: string }>(["link", "show"], ns)).map((l) => l.ifname));
  return {
    tf,
    routerRefs,
    servers: sorted(servers.map((s) => `${s.name} ${s.id}`)),
    neutronNetworks: sorted(networks.map((n) => `${n.name} ${n.id}`)),
    neutronPorts: sorted(ports.map((p) => `${p.device_owner} ${p.id}`)),
    services: sorted(services.map((s) => s.name)),
    connections: sorted(connections.map((x) => x.id)),
    pods: k8s.pods,
    namespaces: k8s.namespaces,
    vrouterPorts,
    kernel,
  };
}

/**
 * After destroy: exactly what the lab had before the stack existed. No TF network, VM, VMI or
 * instance-ip beyond the seeded ones and no virtual-router -> VM ref; no Nova server, no Neutron
 * port; no NSM service or connection; no Kubernetes pod or namespace; no port left in any vRouter agent; no VM or pod namespace,
 * and no tap/vn/vx/veth link (or any other new link) in a node namespace.
 */
export async function expectNothingLeft(lab: TestLab, c: LabClients, before: LabInventory): Promise<void> {
  const now = await labInventory(lab, c);
  for (const t of TF_TYPES) expect(now.tf[t], `TF ${t}`).toEqual(before.tf[t]);
  expect(now.routerRefs, "virtual-router -> virtual-machine refs").toEqual(before.routerRefs);
  expect(now.servers, "Nova servers").toEqual(before.servers);
  expect(now.neutronNetworks, "Neutron networks").toEqual(before.neutronNetworks);
  expect(now.neutronPorts, "Neutron ports").toEqual(before.neutronPorts);
  expect(now.services, "NSM network services").toEqual(before.services);
  expect(now.connections, "NSM connections").toEqual([]);
  expect(now.pods, "Kubernetes pods").toEqual(before.pods);
  expect(now.namespaces, "Kubernetes namespaces").toEqual(before.namespaces);
  expect(now.vrouterPorts, "vRouter agent ports").toEqual(before.vrouterPorts);
  const workloads = Object.keys(now.kernel).filter((ns) => ns.startsWith(`${lab.prefix}-vm-`) || ns.startsWith(`${lab.prefix}-pod-`));
  expect(workloads, "VM and pod namespaces").toEqual([]);
  for (const [ns, links] of Object.entries(now.kernel)) {
    expect(links.filter((l) => /^(tap|vn\d|vx\d|veth|nsk-|nkt)/.test(l)), `tap/vn/vx/veth links in ${ns}`).toEqual([]);
  }
  expect(now.kernel, "namespaces and links").toEqual(before.kernel);
  expect((await lab.status()).counts).toEqual({ virtualNetworks: 0, virtualMachines: 0, ports: 0, pods: 0, connections: 0 });
}

/**
 * What `now` holds that `before` did not, one line per object: TF objects and router refs,
 * Nova servers, Neutron networks and ports, NSM services and connections, pods, vRouter ports,
 * namespaces and links in them. Its length is the leak count.
 */
export function leaksOf(before: LabInventory, now: LabInventory): string[] {
  const extra = (what: string, was: string[] = [], is: string[] = []) => is.filter((x) => !was.includes(x)).map((x) => `${what}: ${x}`);
  const perKey = (what: string, was: Record<string, string[]>, is: Record<string, string[]>) =>
    Object.keys(is).flatMap((k) => (k in was ? extra(`${what} ${k}`, was[k], is[k]) : [`${what}: ${k}`, ...extra(`${what} ${k}`, [], is[k])]));
  return [
    ...perKey("TF", before.tf, now.tf),
    ...perKey("virtual-router refs", before.routerRefs, now.routerRefs),
    ...extra("Nova server", before.servers, now.servers),
    ...extra("Neutron network", before.neutronNetworks, now.neutronNetworks),
    ...extra("Neutron port", before.neutronPorts, now.neutronPorts),
    ...extra("NSM service", before.services, now.services),
    ...extra("NSM connection", before.connections, now.connections),
    ...extra("Kubernetes pod", before.pods, now.pods),
    ...extra("Kubernetes namespace", before.namespaces, now.namespaces),
    ...perKey("vRouter ports of", before.vrouterPorts, now.vrouterPorts),
    ...perKey("netns", before.kernel, now.kernel),
  ];
}

/** Destroy deletes all `resources` of the fixture's stack and leaves exactly what the lab had before it. */
export async function expectDestroyLeavesNothing(t: LabStackFixture, resources: number): Promise<void> {
  const destroy = await t.e2e.stack.destroy();
  expect(destroy.summary.resourceChanges).toEqual({ delete: resources });
  await expectNothingLeft(t.lab, t.api, t.before);
}
