// Automation API plumbing shared by the e2e tests: a stack of an in-repo program on a private
// lab instance with its own backend, and its removal afterwards; clients of the lab's APIs and
// the "destroy leaves nothing" check.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";
import * as ip from "../../lib/kernel/ip.ts";
import { NsmClient } from "../../provider/clients/nsm.ts";
import { OpenStackClient } from "../../provider/clients/openstack.ts";
import { TfClient } from "../../provider/clients/tf.ts";
import { pulumiEnv } from "../../scripts/pulumiEnv.ts";
import type { TestLab } from "../helpers/lab.ts";

export interface E2eStack {
  stack: pulumi.automation.Stack;
  /** Removes the stack's resources (best effort), the stack, its config file and the backend. */
  remove(): Promise<void>;
}

/**
 * A fresh stack of the program in `workDir` (inside this repo, so `tfmesh/...` resolves), on a
 * temporary file backend, whose provider talks to `lab` through TFMESH_ENDPOINTS.
 */
export async function labStack(lab: TestLab, workDir: string, stackConfigDir: string, config: Record<string, string> = {}): Promise<E2eStack> {
  const stackName = `e2e-${randomBytes(4).toString("hex")}`;
  const tempDir = await mkdtemp(join(tmpdir(), "tfmesh-e2e-"));
  await mkdir(join(tempDir, "backend"));
  const stack = await pulumi.automation.LocalWorkspace.createStack(
    { stackName, workDir },
    {
      pulumiHome: join(tempDir, "pulumi-home"),
      envVars: { ...pulumiEnv(process.env), PULUMI_BACKEND_URL: `file://${join(tempDir, "backend")}`, TFMESH_ENDPOINTS: lab.endpointsFile },
    },
  );
  for (const [k, v] of Object.entries(config)) await stack.setConfig(k, { value: v });
  return {
    stack,
    async remove() {
      try {
        await stack.destroy().catch(() => undefined);
        await stack.workspace.removeStack(stackName).catch(() => undefined);
      } finally {
        await rm(join(stackConfigDir, `Pulumi.${stackName}.yaml`), { force: true });
        await rm(tempDir, { recursive: true, force: true });
      }
    },
  };
}

/** The error text of a failed Automation API command (stdout and stderr carry the diagnostics). */
export function commandOutput(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string };
  return `${e.message ?? ""}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`;
}

/** Clients of every wire API of a lab, as the admin user: what e2e tests check the lab through. */
export interface LabClients {
  tf: TfClient;
  openstack: OpenStackClient;
  nsm: NsmClient;
}

export function labClients(lab: TestLab): LabClients {
  const c = lab.config.credentials;
  const openstack = new OpenStackClient({
    authUrl: lab.endpoints.keystone,
    userName: c.username,
    password: c.password,
    tenantName: c.project,
    userDomainName: c.domain,
    projectDomainName: c.domain,
    region: undefined,
  });
  return { openstack, tf: new TfClient({ baseUrl: lab.endpoints.tf, token: () => openstack.keystone.token() }), nsm: new NsmClient(lab.endpoints.nsm) };
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
  const [servers, networks, ports, services, connections] = await Promise.all([
    c.openstack.nova.listServers(),
    c.openstack.neutron.listNetworks(),
    c.openstack.neutron.listPorts(),
    c.nsm.listNetworkServices(),
    c.nsm.listConnections(),
  ]);
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
    kernel,
  };
}

/**
 * After destroy: exactly what the lab had before the stack existed. No TF network, VM, VMI or
 * instance-ip beyond the seeded ones and no virtual-router -> VM ref; no Nova server, no Neutron
 * port; no NSM service or connection; no VM or pod namespace, and no tap/vn/vx/veth link (or any
 * other new link) in a node namespace.
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
  const workloads = Object.keys(now.kernel).filter((ns) => ns.startsWith(`${lab.prefix}-vm-`) || ns.startsWith(`${lab.prefix}-pod-`));
  expect(workloads, "VM and pod namespaces").toEqual([]);
  for (const [ns, links] of Object.entries(now.kernel)) {
    expect(links.filter((l) => /^(tap|vn\d|vx\d|veth|nsk-|nkt)/.test(l)), `tap/vn/vx/veth links in ${ns}`).toEqual([]);
  }
  expect(now.kernel, "namespaces and links").toEqual(before.kernel);
  expect((await lab.status()).counts).toEqual({ virtualNetworks: 0, virtualMachines: 0, ports: 0, pods: 0, connections: 0 });
}
