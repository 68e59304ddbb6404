// Drift below Nova, against a real lab: a VM whose port its vRouter agent no longer carries
// (DELETE /port behind Nova's back, or its interface gone from the node) shows in the provider's
// read as unpluggedPorts, diff turns that into an update, and the update's hard reboot plugs it
// again; a lab restart plugs again what Nova's stored state says the server has. Packets tell.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteLink } from "../../lib/kernel/index.ts";
import { nodeNetns } from "../../lab/dataplane/names.ts";
import { VrouterAgentClient, tapName } from "../../wire/vrouterAgent.ts";
import { provider as virtualMachine } from "../../provider/impl/virtualMachine.ts";
import type { LabClients } from "../../harness/labClients.ts";
import { LAB_TIMEOUT } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { networkOutsidePulumi, providerLabFixture } from "./provider-lab.ts";

const t = providerLabFixture();
let lab: TestLab;
let api: LabClients;
let netUuid: string;
const vms: Record<string, { id: string; outs: Record<string, any>; inputs: Record<string, unknown> }> = {};

const agentOf = (node: string) => new VrouterAgentClient({ baseUrl: lab.endpoints.agents[node]!, retries: 0 });
const portOf = (name: string) => vms[name]!.outs.ports[0] as { portId: string; ip: string };
const reaches = async (from: string, to: string) => (await lab.ping(from, to, { count: 1, wait: 2 })).ok;

beforeAll(async () => {
  ({ lab, api } = t);
  netUuid = await networkOutsidePulumi(api, "drift", "10.8.1.0");
  for (const name of ["vm-a", "vm-b"]) {
    const r = await virtualMachine.check!({}, { __logicalName: name, name, image: "cirros-0.6.2", flavor: "m1.tiny", networks: [netUuid], host: "compute-1" });
    expect(r.failures).toEqual([]);
    const { id, outs } = await virtualMachine.create(r.inputs);
    vms[name] = { id, outs, inputs: r.inputs };
  }
}, LAB_TIMEOUT);

afterAll(async () => {
  for (const vm of Object.values(vms)) await virtualMachine.delete!(vm.id, vm.outs);
  await api.tf.delete("virtual-network", netUuid);
}, LAB_TIMEOUT);

/** Read finds the port unplugged, diff wants an update, the update plugs it again: read is clean and packets flow. */
async function readFindsItUnpluggedAndUpdateReplugs(name: string) {
  const vm = vms[name]!;
  const port = portOf(name);
  const read = await virtualMachine.read!(vm.id, vm.outs);
  expect(read.props.unpluggedPorts).toEqual([port.portId]);
  expect(read.inputs).toEqual(vm.outs.__inputs);
  expect(await virtualMachine.diff!(vm.id, read.props, vm.inputs)).toMatchObject({ changes: true, replaces: [] });
  const { outs } = await virtualMachine.update!(vm.id, read.props, vm.inputs as never);
  expect(outs).toMatchObject({ serverId: vm.id, status: "ACTIVE", unpluggedPorts: [] });
  expect(await agentOf("compute-1").getPort(port.portId)).toMatchObject({ id: port.portId, "ip-address": port.ip });
  const again = await virtualMachine.read!(vm.id, outs);
  expect(again.props.unpluggedPorts).toEqual([]);
  expect(await virtualMachine.diff!(vm.id, again.props, vm.inputs)).toMatchObject({ changes: false });
  vm.outs = outs;
  expect(await reaches(vms["vm-a"]!.id, portOf("vm-b").ip)).toBe(true);
}

describe("a VM's port the vRouter no longer carries", () => {
  it("is clean after create: every port plugged, nothing to change", async () => {
    expect(vms["vm-a"]!.outs.unpluggedPorts).toEqual([]);
    const read = await virtualMachine.read!(vms["vm-a"]!.id, vms["vm-a"]!.outs);
    expect(read.props).toEqual(vms["vm-a"]!.outs);
    expect(await reaches(vms["vm-a"]!.id, portOf("vm-b").ip)).toBe(true);
  });

  it("unplugged through the agent (DELETE /port): read shows it, the update's hard reboot plugs it again", async () => {
    await agentOf("compute-1").deletePort(portOf("vm-b").portId);
    expect(await reaches(vms["vm-a"]!.id, portOf("vm-b").ip)).toBe(false);
    await readFindsItUnpluggedAndUpdateReplugs("vm-b");
  });

  it("its interface gone from the node: the agent no longer carries it, read shows it, the update rebuilds and plugs it", async () => {
    await deleteLink(tapName(portOf("vm-b").portId), nodeNetns(lab.prefix, "compute-1"));
    expect(await agentOf("compute-1").getPort(portOf("vm-b").portId)).toBeUndefined();
    await readFindsItUnpluggedAndUpdateReplugs("vm-b");
  });

  it("a lab restart plugs again what Nova's servers have: the agent carries the port and packets flow, with nothing to update", async () => {
    await agentOf("compute-1").deletePort(portOf("vm-a").portId);
    await lab.restart();
    expect(await agentOf("compute-1").getPort(portOf("vm-a").portId)).toMatchObject({ id: portOf("vm-a").portId });
    const read = await virtualMachine.read!(vms["vm-a"]!.id, vms["vm-a"]!.outs);
    expect(read.props.unpluggedPorts).toEqual([]);
    expect(await reaches(vms["vm-a"]!.id, portOf("vm-b").ip)).toBe(true);
  });
});
