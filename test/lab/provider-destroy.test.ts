// Destroy converges, at the provider level against a real lab: deleting a network that ports still
// use, or a service that connections still use, removes what the stack certainly owns and nobody
// tracks (a server an interrupted create booted), waits for what is on its way out, closes the
// stack's own connections once nothing moves, and otherwise fails naming each user, its maker and
// the command that removes it, leaving the object in place (never half-way and silent).
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KERNEL, MechanismParam, NODE_LABEL, POD_LABEL } from "../../wire/nsm/api.ts";
import { CREATING, OWNER, OWNER_KEY, OWNER_METADATA, STATE_METADATA } from "../../provider/impl/identity.ts";
import { provider as networkService } from "../../provider/impl/networkService.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";
import { eventually } from "../../harness/eventually.ts";
import type { LabClients } from "../../harness/labClients.ts";
import type { TestLab } from "../../harness/lab.ts";
import { createPod, deletePod, labKube } from "../../harness/kube.ts";
import { netnsOfPod } from "../e2e/kube.ts";
import { providerLabFixture } from "./provider-lab.ts";

const t = providerLabFixture({ kubernetes: true });
let lab: TestLab;
let api: LabClients;
let image: string;
let flavor: string;
const urn = (type: string, name: string, stack = "dev") => `urn:pulumi:${stack}::destroy::pulumi-nodejs:dynamic/${type}::${name}`;
const progress: string[] = [];

beforeAll(async () => {
  ({ lab, api } = t);
  image = (await api.openstack.glance.findImage("cirros-0.6.2"))!.id;
  flavor = (await api.openstack.nova.findFlavor("m1.tiny"))!.id;
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    progress.push(String(chunk));
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  });
});

afterEach(() => void progress.splice(0));

afterAll(() => {
  vi.restoreAllMocks();
});

/** A network made by the provider, as a stack "dev" resource. */
async function network(name: string, cidr: string) {
  const r = await virtualNetwork.check!({}, { __logicalName: name, [OWNER]: urn("tf:VirtualNetwork", name), name, subnets: [{ cidr }] });
  expect(r.failures).toEqual([]);
  return virtualNetwork.create(r.inputs);
}

const boot = async (netId: string, metadata?: Record<string, string>) => {
  const s = await api.openstack.nova.createServer({ name: "user", imageRef: image, flavorRef: flavor, networks: [{ uuid: netId }], ...(metadata ? { metadata } : {}) });
  await api.openstack.nova.waitForStatus(s.id, "ACTIVE", { timeoutMs: 60_000 });
  return s.id;
};
const deleteServer = async (id: string) => {
  await api.openstack.nova.deleteServer(id);
  await api.openstack.nova.waitForDeleted(id);
};

describe("deleting a network that ports still use", () => {
  it("deletes a server an interrupted create of this stack booted (tracked by nobody), then the network", async () => {
    const net = await network("n1", "10.11.1.0/24");
    const server = await boot(net.id, { [OWNER_METADATA]: urn("openstack:VirtualMachine", "vm"), [STATE_METADATA]: CREATING });
    await virtualNetwork.delete!(net.id, net.outs);
    expect(await api.openstack.nova.getServer(server)).toBeUndefined();
    expect(await api.tf.lookupId("virtual-network", ["default-domain", "admin", "n1"])).toBeUndefined();
  });

  it("leaves a server another stack's interrupted create booted (that stack may retry it), naming it and its maker", async () => {
    const net = await network("n4", "10.11.4.0/24");
    const other = urn("openstack:VirtualMachine", "vm", "prod");
    const server = await boot(net.id, { [OWNER_METADATA]: other, [STATE_METADATA]: CREATING });
    const err = await virtualNetwork.delete!(net.id, net.outs).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain(`of Nova server user (${server}), made by ${other}: delete the server with \`openstack server delete --wait ${server}\`, or the resource ${other} that tracks it`);
    expect((await api.openstack.nova.getServer(server))?.status).toBe("ACTIVE");
    await deleteServer(server);
    await virtualNetwork.delete!(net.id, net.outs);
  });

  it("fails naming a server it did not make, with the command that removes it, and keeps the network; once it is gone the delete works", async () => {
    const net = await network("n2", "10.11.2.0/24");
    const server = await boot(net.id);
    const err = await virtualNetwork.delete!(net.id, net.outs).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(new RegExp(`^virtual network default-domain:admin:n2 \\(${net.id}\\) is still used by:\\n  - port [0-9a-f-]+ of Nova server user \\(${server}\\), not made by tfmesh: delete the server with \`openstack server delete --wait ${server}\``));
    expect(err?.message).toMatch(/remove it, then run the delete/);
    expect((await api.tf.read("virtual-network", net.id)).uuid).toBe(net.id);
    await deleteServer(server);
    await virtualNetwork.delete!(net.id, net.outs);
    expect(await api.tf.lookupId("virtual-network", ["default-domain", "admin", "n2"])).toBeUndefined();
  });

  it("waits for a server of this stack that goes meanwhile (its own delete running beside this one), then deletes the network", async () => {
    const net = await network("n3", "10.11.3.0/24");
    const server = await boot(net.id, { [OWNER_METADATA]: urn("openstack:VirtualMachine", "vm3"), [STATE_METADATA]: "created" });
    const deleting = virtualNetwork.delete!(net.id, net.outs);
    await eventually(() => progress.some((l) => l.includes(`waiting for port`) && l.includes(server)), { what: "the network's delete to wait for the server" });
    await deleteServer(server);
    await deleting;
    expect(await api.tf.lookupId("virtual-network", ["default-domain", "admin", "n3"])).toBeUndefined();
  });
});

describe("deleting a service that connections still use", () => {
  let netId: string;
  let netOuts: Record<string, unknown>;
  let clientNetns = "";

  beforeAll(async () => {
    const net = await network("svcnet", "10.11.9.0/24");
    netId = net.id;
    netOuts = net.outs;
    await createPod(labKube(lab), "client", { node: "k8s-1" });
    clientNetns = await netnsOfPod(labKube(lab), "client");
  });

  afterAll(async () => {
    await deletePod(labKube(lab), "client");
    await virtualNetwork.delete!(netId, netOuts);
  });

  const service = async (name: string) => {
    const r = await networkService.check!({}, { __logicalName: name, [OWNER]: urn("nsm:NetworkService", name), name, virtualNetwork: "default-domain:admin:svcnet" });
    expect(r.failures).toEqual([]);
    return networkService.create(r.inputs);
  };
  const connect = (id: string, svc: string, labels: Record<string, string> = {}) =>
    api.nsm.request({
      connection: { id, network_service: svc, labels: { [NODE_LABEL]: "k8s-1", [POD_LABEL]: "client", ...labels } },
      mechanism_preferences: [{ cls: "LOCAL", type: KERNEL, parameters: { [MechanismParam.inodeURL]: `file:///var/run/netns/${clientNetns}`, [MechanismParam.netnsName]: clientNetns } }],
    });

  it("fails naming a connection it did not make, with the call that closes it, and keeps the service", async () => {
    const svc = await service("s1");
    await connect("foreign-conn", "s1");
    const err = await networkService.delete!(svc.id, svc.outs).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain(`network service "s1" is still used by:\n  - NSM connection foreign-conn (pod client, interface nsm-1), not made by tfmesh: close it with NSM's Close (networkservice.NetworkService/Close, connection id "foreign-conn") at ${lab.endpoints.nsmGrpc}`);
    expect(await api.nsm.getNetworkService("s1")).toBeDefined();
    await api.nsm.close({ id: "foreign-conn" });
    await networkService.delete!(svc.id, svc.outs);
    expect(await api.nsm.getNetworkService("s1")).toBeUndefined();
  });

  it("closes a connection of this stack that nothing removes (once nothing moves), then deletes the service", async () => {
    const svc = await service("s2");
    const owner = urn("nsm:PodAttachment", "orphan");
    await connect("stack-conn", "s2", { [OWNER_KEY]: owner });
    await networkService.delete!(svc.id, svc.outs);
    expect(await api.nsm.getNetworkService("s2")).toBeUndefined();
    expect(await api.nsm.getConnection("stack-conn")).toBeUndefined();
    expect(progress.some((l) => l.includes(`removing NSM connection stack-conn (pod client, interface nsm-1) (made by ${owner}, of this stack)`))).toBe(true);
  });
});
