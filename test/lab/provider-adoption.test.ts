// Existing objects, at the provider level against a real lab: lookups find networks, servers and
// services made outside Pulumi (and name the argument when they do not exist); `adopt: true`
// takes a network or server over as it is, fails at check when it is missing or differs, and
// delete leaves it in place unless `deleteAdopted: true`.
import { beforeAll, describe, expect, it } from "vitest";
import { resolveSettings } from "../../wire/settings.ts";
import { connect } from "../../provider/impl/context.ts";
import * as lookups from "../../provider/impl/lookups.ts";
import type { LookupContext } from "../../provider/impl/lookups.ts";
import { provider as virtualMachine } from "../../provider/impl/virtualMachine.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";
import type { LabClients } from "../../harness/labClients.ts";
import { LAB_TIMEOUT } from "../../harness/lab.ts";
import { networkOutsidePulumi as madeOutsidePulumi, providerLabFixture } from "./provider-lab.ts";

const t = providerLabFixture();
let api: LabClients;
let ctx: LookupContext;

let legacyUuid: string;
let legacyServerId: string;

/** A TF network made outside Pulumi, in project admin with one /24. */
const networkOutsidePulumi = (name: string, prefix: string, addrFromStart?: boolean) => madeOutsidePulumi(api, name, prefix, { addrFromStart });

beforeAll(async () => {
  api = t.api;
  const settings = resolveSettings({ env: process.env });
  ctx = { settings, clients: connect(settings, () => undefined, { retries: 0 }) };
  // Made outside Pulumi: a network with one subnet handed out from the start, and a server on it.
  legacyUuid = await networkOutsidePulumi("legacy", "10.9.9.0", true);
  const [image, flavor] = await Promise.all([api.openstack.glance.findImage("cirros-0.6.2"), api.openstack.nova.findFlavor("m1.tiny")]);
  const server = await api.openstack.nova.createServer({ name: "legacy-vm", imageRef: image!.id, flavorRef: flavor!.id, networks: [{ uuid: legacyUuid }] });
  legacyServerId = server.id;
  await api.openstack.nova.waitForStatus(server.id, "ACTIVE", { timeoutMs: 60_000 });
}, LAB_TIMEOUT);

describe("lookups", () => {
  it("getVirtualNetwork finds a network by fq_name and by uuid, with its subnets as TF holds them", async () => {
    const byName = await lookups.virtualNetwork(ctx, { fqName: "default-domain:admin:legacy" });
    expect(byName).toMatchObject({ uuid: legacyUuid, fqName: "default-domain:admin:legacy", name: "legacy", project: "default-domain:admin" });
    expect(byName.subnets).toEqual([expect.objectContaining({ cidr: "10.9.9.0/24", gateway: "10.9.9.1", addrFromStart: true })]);
    expect(byName.networkId).toBeGreaterThan(0);
    expect(await lookups.virtualNetwork(ctx, { uuid: legacyUuid })).toEqual(byName);
  });

  it("getVirtualMachine finds a server by name and by id, with its port on the network", async () => {
    const byName = await lookups.virtualMachine(ctx, { name: "legacy-vm" });
    expect(byName).toMatchObject({ serverId: legacyServerId, name: "legacy-vm", status: "ACTIVE" });
    expect(byName.ports).toEqual([expect.objectContaining({ networkId: legacyUuid, networkName: "legacy" })]);
    expect(byName.ip).toMatch(/^10\.9\.9\.\d+$/);
    expect(await lookups.virtualMachine(ctx, { id: legacyServerId })).toEqual(byName);
  });

  it("getNetworkService finds a registered service", async () => {
    await api.nsm.upsertNetworkService({ name: "legacy", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:legacy" } });
    expect(await lookups.networkService(ctx, { name: "legacy" })).toMatchObject({ name: "legacy", forwarder: "tungsten", virtualNetwork: "default-domain:admin:legacy" });
    await api.nsm.deleteNetworkService("legacy");
  });

  it.each([
    ["getVirtualNetwork", () => lookups.virtualNetwork(ctx, { fqName: "default-domain:admin:nope" }), /^getVirtualNetwork: fqName: there is no virtual network default-domain:admin:nope in TF/],
    ["getVirtualNetwork", () => lookups.virtualNetwork(ctx, { uuid: "3f1c1b7e-0000-4000-8000-000000000000" }), /^getVirtualNetwork: uuid: there is no virtual network/],
    ["getVirtualNetwork", () => lookups.virtualNetwork(ctx, { fqName: "admin:legacy" }), /^getVirtualNetwork: fqName: /],
    ["getVirtualNetwork", () => lookups.virtualNetwork(ctx, {}), /^getVirtualNetwork: fqName \| uuid: give one of fqName, uuid/],
    ["getVirtualNetwork", () => lookups.virtualNetwork(ctx, { fqName: "default-domain:admin:legacy", uuid: legacyUuid }), /give only one of fqName, uuid/],
    ["getVirtualMachine", () => lookups.virtualMachine(ctx, { name: "nope-vm" }), /^getVirtualMachine: name: there is no server named "nope-vm" in Nova/],
    ["getVirtualMachine", () => lookups.virtualMachine(ctx, { id: "3f1c1b7e-0000-4000-8000-000000000000" }), /^getVirtualMachine: id: there is no server/],
    ["getNetworkService", () => lookups.networkService(ctx, { name: "nope" }), /^getNetworkService: name: there is no network service "nope"/],
  ])("%s of something that is not there names the argument", async (_fn, call, message) => {
    await expect(call()).rejects.toThrow(message);
  });
});

describe("adopt on VirtualNetwork", () => {
  const declared = { name: "legacy", adopt: true, subnets: [{ cidr: "10.9.9.0/24", addrFromStart: true }] };

  it("check fails on adopt when the network does not exist, and on name when adopt has no name", async () => {
    const missing = await virtualNetwork.check!({}, { __logicalName: "ghost", ...declared, name: "ghost" });
    expect(missing.failures).toEqual([expect.objectContaining({ property: "adopt", reason: expect.stringMatching(/no virtual network default-domain:admin:ghost .*to adopt/) })]);
    const unnamed = await virtualNetwork.check!({}, { __logicalName: "ghost", adopt: true, subnets: declared.subnets });
    expect(unnamed.failures).toEqual([expect.objectContaining({ property: "name", reason: expect.stringMatching(/adopt: true needs the name/) })]);
  });

  it("check fails on subnets when they differ from the network's, saying what it has", async () => {
    const r = await virtualNetwork.check!({}, { __logicalName: "legacy", ...declared, subnets: [{ cidr: "10.9.9.0/24" }] });
    expect(r.failures).toEqual([expect.objectContaining({ property: "subnets", reason: expect.stringContaining('declare its subnets as they are: [{"cidr":"10.9.9.0/24","addrFromStart":true}]') })]);
  });

  it("without adopt, an existing name fails at check and points at adopt", async () => {
    const r = await virtualNetwork.check!({}, { __logicalName: "legacy", name: "legacy", subnets: declared.subnets });
    expect(r.failures).toEqual([expect.objectContaining({ property: "name", reason: expect.stringMatching(/already exists .*set adopt: true/) })]);
  });

  it("create takes the network over as it is, and delete leaves it in place", async () => {
    const checked = await virtualNetwork.check!({}, { __logicalName: "legacy", ...declared });
    expect(checked.failures).toEqual([]);
    const created = await virtualNetwork.create(checked.inputs);
    expect(created.id).toBe(legacyUuid);
    expect(created.outs).toMatchObject({ adopted: true, uuid: legacyUuid, fqName: "default-domain:admin:legacy" });
    const refreshed = await virtualNetwork.read!(created.id, created.outs);
    expect(refreshed.props).toMatchObject({ adopted: true });
    expect(refreshed.inputs).toMatchObject({ adopt: true });
    await virtualNetwork.delete!(created.id, refreshed.props);
    expect((await api.tf.read("virtual-network", legacyUuid)).uuid).toBe(legacyUuid);
  });

  it("with deleteAdopted, delete removes the adopted network", async () => {
    const otherUuid = await networkOutsidePulumi("legacy-2", "10.9.8.0");
    const checked = await virtualNetwork.check!({}, { __logicalName: "legacy-2", name: "legacy-2", adopt: true, deleteAdopted: true, subnets: [{ cidr: "10.9.8.0/24" }] });
    expect(checked.failures).toEqual([]);
    const created = await virtualNetwork.create(checked.inputs);
    expect(created.id).toBe(otherUuid);
    await virtualNetwork.delete!(created.id, created.outs);
    expect(await api.tf.lookupId("virtual-network", ["default-domain", "admin", "legacy-2"])).toBeUndefined();
  });

  it("deleteAdopted without adopt is a check failure", async () => {
    const r = await virtualNetwork.check!({}, { __logicalName: "x", name: "fresh", deleteAdopted: true, subnets: [{ cidr: "10.7.7.0/24" }] });
    expect(r.failures).toEqual([expect.objectContaining({ property: "deleteAdopted" })]);
  });
});

describe("adopt on VirtualMachine", () => {
  const declared = { name: "legacy-vm", image: "cirros-0.6.2", flavor: "m1.tiny", networks: [{ network: "legacy" }], adopt: true };

  it("check fails on adopt when no server has the name", async () => {
    const r = await virtualMachine.check!({}, { __logicalName: "ghost", ...declared, name: "ghost-vm" });
    expect(r.failures).toEqual([expect.objectContaining({ property: "adopt", reason: expect.stringMatching(/no server named "ghost-vm" in Nova to adopt/) })]);
  });

  it("create fails on flavor when the server has another one, naming it, and boots nothing", async () => {
    const before = (await api.openstack.nova.listServers()).map((s) => s.id);
    const checked = await virtualMachine.check!({}, { __logicalName: "legacy-vm", ...declared, flavor: "m1.small" });
    expect(checked.failures).toEqual([]);
    await expect(virtualMachine.create(checked.inputs)).rejects.toThrow(/^flavor: to adopt server "legacy-vm" .*declare its flavor as it is: m1\.tiny \(the program says "m1\.small"\)/);
    expect((await api.openstack.nova.listServers()).map((s) => s.id)).toEqual(before);
  });

  it("create fails on networks when the server is on another one, saying which, and boots nothing", async () => {
    const elsewhere = await networkOutsidePulumi("elsewhere", "10.9.7.0");
    const before = (await api.openstack.nova.listServers()).map((s) => s.id);
    const checked = await virtualMachine.check!({}, { __logicalName: "legacy-vm", ...declared, networks: [{ network: "elsewhere" }] });
    expect(checked.failures).toEqual([]);
    await expect(virtualMachine.create(checked.inputs)).rejects.toThrow(/^networks: to adopt server "legacy-vm" .*declare its networks as they are: \["legacy"\] \(the program says \["elsewhere"\]\)/);
    expect((await api.openstack.nova.listServers()).map((s) => s.id)).toEqual(before);
    await api.tf.delete("virtual-network", elsewhere);
  });

  it("create takes the server over, and delete leaves it running", async () => {
    const checked = await virtualMachine.check!({}, { __logicalName: "legacy-vm", ...declared });
    expect(checked.failures).toEqual([]);
    const created = await virtualMachine.create(checked.inputs);
    expect(created.id).toBe(legacyServerId);
    expect(created.outs).toMatchObject({ adopted: true, serverId: legacyServerId, status: "ACTIVE" });
    await virtualMachine.delete!(created.id, created.outs);
    expect((await api.openstack.nova.getServer(legacyServerId))?.status).toBe("ACTIVE");
  });

  it("two servers with the name fail at check, listing both", async () => {
    const [image, flavor] = await Promise.all([api.openstack.glance.findImage("cirros-0.6.2"), api.openstack.nova.findFlavor("m1.tiny")]);
    const twin = await api.openstack.nova.createServer({ name: "legacy-vm", imageRef: image!.id, flavorRef: flavor!.id, networks: [{ uuid: legacyUuid }] });
    const r = await virtualMachine.check!({}, { __logicalName: "legacy-vm", ...declared });
    expect(r.failures).toEqual([expect.objectContaining({ property: "adopt", reason: expect.stringMatching(new RegExp(`2 servers are named "legacy-vm" .*${twin.id}`)) })]);
    await api.openstack.nova.deleteServer(twin.id);
    await api.openstack.nova.waitForDeleted(twin.id);
  });
});
