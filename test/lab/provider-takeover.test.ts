// Creates that survive crashes, at the provider level against a real lab: what an interrupted
// create left (made here as that create made it, with the resource's URN on it) is found and taken
// over by the retried create instead of being made twice or refused; what carries another owner is
// refused; a replacement (same owner, first server finished) boots a server of its own.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OWNER, OWNER_KEY, OWNER_METADATA, STATE_METADATA, ownerUuid } from "../../provider/impl/identity.ts";
import { provider as networkService } from "../../provider/impl/networkService.ts";
import { provider as podAttachment } from "../../provider/impl/podAttachment.ts";
import { provider as virtualMachine } from "../../provider/impl/virtualMachine.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";
import type { LabClients } from "../../harness/labClients.ts";
import { createPod, deletePod, labKube } from "../../harness/kube.ts";
import { networkOutsidePulumi, providerLabFixture } from "./provider-lab.ts";

const t = providerLabFixture({ kubernetes: true });
let api: LabClients;
const urn = (type: string, name: string) => `urn:pulumi:dev::crash::pulumi-nodejs:dynamic/${type}::${name}`;

beforeAll(() => {
  api = t.api;
});

async function checked(p: typeof virtualNetwork, news: Record<string, unknown>) {
  const r = await p.check!({}, news);
  expect(r.failures).toEqual([]);
  return r.inputs;
}

const ownedBy = (owner: string) => ({ annotations: [{ key: OWNER_KEY, value: owner }] });

describe("VirtualNetwork", () => {
  const owner = urn("tf:VirtualNetwork", "net");

  it("a retried create takes over the network its interrupted create made, bringing the subnets to the program's", async () => {
    // What the first attempt made before the crash (with the subnets of an earlier program).
    const made = { uuid: await networkOutsidePulumi(api, "net", "10.5.1.0", ownedBy(owner)) };
    const inputs = await checked(virtualNetwork, { __logicalName: "net", [OWNER]: owner, name: "net", subnets: [{ cidr: "10.5.1.0/24" }, { cidr: "10.5.2.0/24" }] });
    const { id, outs } = await virtualNetwork.create(inputs);
    expect(id).toBe(made.uuid);
    expect(outs.subnets.map((s: { cidr: string }) => s.cidr)).toEqual(["10.5.1.0/24", "10.5.2.0/24"]);
    expect((await api.tf.list("virtual-network")).filter((v) => v.fq_name.at(-1) === "net")).toHaveLength(1);
    await virtualNetwork.delete!(id, outs);
  });

  it("a network of that name made by another resource, or outside Pulumi, is refused at check and at create, naming its maker", async () => {
    const other = urn("tf:VirtualNetwork", "someone-else");
    const made = { uuid: await networkOutsidePulumi(api, "taken", "10.5.3.0", ownedBy(other)) };
    const news = { __logicalName: "taken", [OWNER]: owner, name: "taken", subnets: [{ cidr: "10.5.3.0/24" }] };
    const r = await virtualNetwork.check!({}, news);
    expect(r.failures).toEqual([{ property: "name", reason: expect.stringContaining(`already exists (uuid ${made.uuid}, made by ${other})`) }]);
    await expect(virtualNetwork.create(r.inputs)).rejects.toThrow(/^name: virtual network default-domain:admin:taken already exists/);
    await api.tf.delete("virtual-network", made.uuid);
  });
});

describe("VirtualMachine", () => {
  const owner = urn("openstack:VirtualMachine", "vm");
  let netUuid: string;
  let image: string;
  let flavor: string;

  beforeAll(async () => {
    netUuid = await networkOutsidePulumi(api, "vmnet", "10.6.1.0");
    image = (await api.openstack.glance.findImage("cirros-0.6.2"))!.id;
    flavor = (await api.openstack.nova.findFlavor("m1.tiny"))!.id;
  });

  afterAll(async () => {
    for (const s of await api.openstack.nova.listServers()) {
      await api.openstack.nova.deleteServer(s.id);
      await api.openstack.nova.waitForDeleted(s.id);
    }
    await api.tf.delete("virtual-network", netUuid);
  });

  const interrupted = (flavorRef: string) =>
    api.openstack.nova.createServer({ name: "vm", imageRef: image, flavorRef, networks: [{ uuid: netUuid }], metadata: { [OWNER_METADATA]: owner, [STATE_METADATA]: "creating" } });

  it("a retried create takes over the server its interrupted create booted, and marks it created; a create the engine did not record is taken over again; a replacement then boots its own", async () => {
    const first = await interrupted(flavor);
    const inputs = await checked(virtualMachine, { __logicalName: "vm", [OWNER]: owner, name: "vm", image: "cirros-0.6.2", flavor: "m1.tiny", networks: [netUuid] });
    const { id, outs } = await virtualMachine.create(inputs);
    expect(id).toBe(first.id);
    expect(outs).toMatchObject({ serverId: first.id, status: "ACTIVE" });
    expect((await api.openstack.nova.getServer(id))?.metadata).toEqual({ [OWNER_METADATA]: owner, [STATE_METADATA]: "created" });
    expect((await api.openstack.nova.listServers()).map((s) => s.id)).toEqual([first.id]);

    // The engine died before it recorded that finished create: the next create, with the same
    // program, takes the created server over instead of booting a second one.
    const retried = await virtualMachine.create(inputs);
    expect(retried.id).toBe(first.id);
    expect((await api.openstack.nova.listServers()).map((s) => s.id)).toEqual([first.id]);

    // A replacement (create before delete, same owner, a flavor the old server does not have): the
    // finished server is the old one, left alone.
    const replacementInputs = await checked(virtualMachine, { __logicalName: "vm", [OWNER]: owner, name: "vm", image: "cirros-0.6.2", flavor: "m1.small", networks: [netUuid] });
    const replacement = await virtualMachine.create(replacementInputs);
    expect(replacement.id).not.toBe(first.id);
    expect((await api.openstack.nova.listServers()).map((s) => s.id).sort()).toEqual([first.id, replacement.id].sort());
    await virtualMachine.delete!(first.id, outs);
    await virtualMachine.delete!(replacement.id, replacement.outs);
  });

  it("a server an interrupted create booted with what the program no longer says is deleted, and a new one booted", async () => {
    const small = (await api.openstack.nova.findFlavor("m1.small"))!.id;
    const stale = await interrupted(small);
    const inputs = await checked(virtualMachine, { __logicalName: "vm", [OWNER]: owner, name: "vm", image: "cirros-0.6.2", flavor: "m1.tiny", networks: [netUuid] });
    const { id, outs } = await virtualMachine.create(inputs);
    expect(id).not.toBe(stale.id);
    expect((await api.openstack.nova.listServers()).map((s) => s.id)).toEqual([id]);
    await virtualMachine.delete!(id, outs);
  });
});

describe("NetworkService and PodAttachment", () => {
  const serviceOwner = urn("nsm:NetworkService", "svc");
  const attachmentOwner = urn("nsm:PodAttachment", "web-nsm-1");
  let vnUuid: string;

  beforeAll(async () => {
    vnUuid = await networkOutsidePulumi(api, "svcnet", "10.7.1.0");
    await createPod(labKube(t.lab), "web", { node: "k8s-1" });
  });

  afterAll(async () => {
    await deletePod(labKube(t.lab), "web");
    await api.nsm.deleteNetworkService("svc").catch(() => undefined);
    await api.tf.delete("virtual-network", vnUuid);
  });

  it("a retried NetworkService create takes over the very record it registers, and refuses any other", async () => {
    const record = { name: "svc", payload: "ETHERNET" as const, forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:svcnet" } };
    await api.nsm.upsertNetworkService(record);
    const news = { __logicalName: "svc", [OWNER]: serviceOwner, name: "svc", virtualNetwork: "default-domain:admin:svcnet" };
    const { id } = await networkService.create(await checked(networkService, news));
    expect(id).toBe("svc");
    const r = await networkService.check!({}, { ...news, payload: "IP" });
    expect(r.failures).toEqual([{ property: "name", reason: expect.stringMatching(/"svc" is already registered/) }]);
    await expect(networkService.create(r.inputs)).rejects.toThrow(/"svc" is already registered/);
    expect((await api.nsm.getNetworkService("svc"))?.payload).toBe("ETHERNET");
  });

  it("a retried PodAttachment create, in a new check without old inputs, heals the connection of the first: one interface, one connection", async () => {
    const news = { __logicalName: "web-nsm-1", [OWNER]: attachmentOwner, pod: "web", networkService: "svc" };
    const first = await podAttachment.create(await checked(podAttachment, news));
    expect(first.id).toBe(ownerUuid(attachmentOwner, "nsm-connection"));
    const retried = await podAttachment.create(await checked(podAttachment, news));
    expect(retried.id).toBe(first.id);
    expect(retried.outs).toMatchObject({ interfaceName: first.outs.interfaceName, ip: first.outs.ip, mac: first.outs.mac, state: "UP" });
    expect((await api.nsm.listConnections()).map((c) => c.id)).toEqual([first.id]);
    expect((await api.nsm.getConnection(first.id))?.labels).toMatchObject({ [OWNER_KEY]: attachmentOwner });
    const read = await podAttachment.read!(first.id, retried.outs);
    expect(read.inputs).toEqual(retried.outs.__inputs);
    await podAttachment.delete!(first.id, retried.outs);
    expect(await api.nsm.listConnections()).toEqual([]);
  });
});
