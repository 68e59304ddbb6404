// check and diff of every resource, called directly as the engine would: bad input fails at
// preview naming the property, unknown values (preview) pass, names are decided once and kept,
// and diff says what replaces and what updates in place.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useConfig } from "../../provider/impl/context.ts";
import { UNKNOWN } from "../../provider/impl/inputs.ts";
import { provider as networkService } from "../../provider/impl/networkService.ts";
import { provider as podAttachment } from "../../provider/impl/podAttachment.ts";
import { provider as virtualMachine } from "../../provider/impl/virtualMachine.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";
import { fakeCloudFixture, unreachableEndpoints } from "./providerFakes.ts";

type Provider = typeof virtualNetwork;
const savedEnv = process.env.TFMESH_ENDPOINTS;

function useEndpoints(file: string) {
  process.env.TFMESH_ENDPOINTS = file;
  useConfig(undefined);
}

async function failuresOf(p: Provider, news: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  const r = await p.check!(olds, { __logicalName: "res", ...news });
  return r.failures ?? [];
}

async function propertiesFailing(p: Provider, news: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  return (await failuresOf(p, news, olds)).map((f) => f.property);
}

describe("with the APIs unreachable (preview without the lab)", () => {
  let down: Awaited<ReturnType<typeof unreachableEndpoints>>;
  beforeAll(async () => {
    down = await unreachableEndpoints();
    useEndpoints(down.file);
  });
  afterAll(async () => {
    await down.cleanup();
    if (savedEnv === undefined) delete process.env.TFMESH_ENDPOINTS;
    else process.env.TFMESH_ENDPOINTS = savedEnv;
  });

  describe("VirtualNetwork.check", () => {
    const ok = { name: "red", subnets: [{ cidr: "10.1.1.0/24" }] };

    it("accepts a valid network and fills the defaults", async () => {
      const r = await virtualNetwork.check!({}, { __logicalName: "red", ...ok });
      expect(r.failures).toEqual([]);
      expect(r.inputs).toMatchObject({ name: "red", project: "default-domain:admin", ipam: "default-domain:default-project:default-network-ipam" });
    });

    it.each([
      [{ subnets: [{ cidr: "10.1.1.0/33" }] }, "subnets[0].cidr", /larger than 32/],
      [{ subnets: [{ cidr: "10.1.1.5/24" }] }, "subnets[0].cidr", /host bits/],
      [{ subnets: [{ cidr: "banana" }] }, "subnets[0].cidr", /CIDR/],
      [{ subnets: [{ cidr: "10.1.1.0/30" }] }, "subnets[0].cidr", /\/29 or shorter/],
      [{ subnets: [{ cidr: "10.1.1.0/24", gateway: "10.1.2.1" }] }, "subnets[0].gateway", /not a host address of 10.1.1.0\/24/],
      [{ subnets: [{ cidr: "10.1.1.0/24", gateway: "10.1.1.0" }] }, "subnets[0].gateway", /not a host address/],
      [{ subnets: [{ cidr: "10.1.1.0/24", gateway: "ten" }] }, "subnets[0].gateway", /not an IPv4 address/],
      [{ subnets: [{ cidr: "10.1.1.0/24", allocationPools: [{ start: "10.1.1.10", end: "10.1.2.20" }] }] }, "subnets[0].allocationPools[0]", /outside 10.1.1.0\/24/],
      [{ subnets: [{ cidr: "10.1.1.0/24", allocationPools: [{ start: "10.1.1.50", end: "10.1.1.20" }] }] }, "subnets[0].allocationPools[0]", /after end/],
      [{ subnets: [{ cidr: "10.1.1.0/24" }, { cidr: "10.1.0.0/16" }] }, "subnets", /overlap/],
      [{ subnets: [] }, "subnets", /at least one subnet/],
      [{ subnets: [{ cidr: "10.1.1.0/24", addrFromStart: "yes" }] }, "subnets[0].addrFromStart", /true or false/],
      [{ project: "admin" }, "project", /expected 2/],
      [{ project: "default-domain::x" }, "project", /empty element|expected 2/],
      [{ ipam: "ipam1" }, "ipam", /expected 3/],
      [{ name: "red:blue" }, "name", /contains ":"/],
    ])("rejects %j on %s", async (patch, property, reason) => {
      const failures = await failuresOf(virtualNetwork, { ...ok, ...patch });
      expect(failures.map((f) => f.property)).toContain(property);
      expect(failures.find((f) => f.property === property)!.reason).toMatch(reason);
    });

    it("lets unknown values through during preview", async () => {
      expect(await failuresOf(virtualNetwork, { name: UNKNOWN, project: UNKNOWN, subnets: UNKNOWN })).toEqual([]);
      expect(await failuresOf(virtualNetwork, { subnets: [{ cidr: UNKNOWN, gateway: UNKNOWN }, UNKNOWN] })).toEqual([]);
      expect(await failuresOf(virtualNetwork, { subnets: [{ cidr: "10.1.1.0/24", gateway: UNKNOWN }] })).toEqual([]);
    });

    it("gives an unnamed network the resource name plus a suffix, once, and keeps it", async () => {
      const first = await virtualNetwork.check!({}, { __logicalName: "red", subnets: ok.subnets });
      expect(first.inputs.name).toMatch(/^red-[0-9a-f]{7}$/);
      const again = await virtualNetwork.check!(first.inputs, { __logicalName: "red", subnets: [{ cidr: "10.1.1.0/25" }] });
      expect(again.inputs.name).toBe(first.inputs.name);
    });
  });

  describe("VirtualMachine.check", () => {
    const ok = { image: "cirros", flavor: "m1.tiny", networks: [{ network: "red" }] };
    it("accepts network names, uuids and the string shorthand", async () => {
      const r = await virtualMachine.check!({}, { __logicalName: "vm", ...ok, networks: ["red", { network: "blue", fixedIp: "10.2.2.5" }] });
      expect(r.failures).toEqual([]);
      expect(r.inputs.networks).toEqual([{ network: "red" }, { network: "blue", fixedIp: "10.2.2.5" }]);
    });
    it.each([
      [{ image: undefined }, "image", /required/],
      [{ flavor: "" }, "flavor", /required/],
      [{ networks: [] }, "networks", /at least one network/],
      [{ networks: [{ network: "red", fixedIp: "10.1.1" }] }, "networks[0].fixedIp", /not an IPv4/],
      [{ networks: [{}] }, "networks[0].network", /required/],
      [{ networks: [42] }, "networks[0]", /uuid or name/],
      [{ host: "a:b" }, "host", /":"/],
      [{ timeoutSeconds: -1 }, "timeoutSeconds", /positive/],
    ])("rejects %j on %s", async (patch, property, reason) => {
      const failures = await failuresOf(virtualMachine, { ...ok, ...patch });
      expect(failures.find((f) => f.property === property)?.reason).toMatch(reason);
    });
    it("lets unknown values through during preview", async () => {
      expect(await failuresOf(virtualMachine, { image: UNKNOWN, flavor: UNKNOWN, networks: [UNKNOWN, { network: UNKNOWN }] })).toEqual([]);
    });
  });

  describe("NetworkService.check", () => {
    const ok = { name: "red", virtualNetwork: "default-domain:admin:red" };
    it("defaults to the tungsten forwarder and ETHERNET payload", async () => {
      const r = await networkService.check!({}, { __logicalName: "red", ...ok });
      expect(r.failures).toEqual([]);
      expect(r.inputs).toMatchObject({ forwarder: "tungsten", payload: "ETHERNET" });
    });
    it.each([
      [{ forwarder: "vpp" }, "forwarder", /unknown forwarder "vpp"; known: kernel, tungsten/],
      [{ virtualNetwork: undefined }, "virtualNetwork", /needs the TF virtual network/],
      [{ virtualNetwork: "admin:red" }, "virtualNetwork", /expected 3/],
      [{ forwarder: "kernel", virtualNetwork: undefined }, "cidr", /kernel forwarder needs/],
      [{ forwarder: "kernel", cidr: "10.9.0.0/99" }, "cidr", /larger than 32/],
      [{ payload: "MPLS" }, "payload", /ETHERNET, IP/],
      [{ name: "Red_Service" }, "name", /DNS-1123/],
    ])("rejects %j on %s", async (patch, property, reason) => {
      const failures = await failuresOf(networkService, { ...ok, ...patch });
      expect(failures.find((f) => f.property === property)?.reason).toMatch(reason);
    });
    it("derives a DNS-1123 name from an unusual resource name", async () => {
      const r = await networkService.check!({}, { __logicalName: "Red_Net", virtualNetwork: ok.virtualNetwork });
      expect(r.inputs.name).toMatch(/^red-net-[0-9a-f]{7}$/);
    });
    it("lets unknown values through during preview", async () => {
      expect(await failuresOf(networkService, { name: UNKNOWN, virtualNetwork: UNKNOWN, forwarder: UNKNOWN })).toEqual([]);
    });
  });

  describe("PodAttachment.check", () => {
    const ok = { pod: "red-pod", networkService: "red" };
    it("fixes a connection id once and keeps it from the previous inputs", async () => {
      const first = await podAttachment.check!({}, { __logicalName: "a", ...ok });
      expect(first.failures).toEqual([]);
      expect(first.inputs.connectionId).toMatch(/^[0-9a-f-]{36}$/);
      const again = await podAttachment.check!(first.inputs, { __logicalName: "a", ...ok, labels: { app: "x" } });
      expect(again.inputs.connectionId).toBe(first.inputs.connectionId);
    });
    it.each([
      [{ interfaceName: "a-very-long-interface" }, "interfaceName", /at most 15/],
      [{ interfaceName: "nsm 1" }, "interfaceName", /may only contain/],
      [{ interfaceName: "eth0" }, "interfaceName", /pod's own interface/],
      [{ pod: undefined }, "pod", /required/],
      [{ pod: "Red_Pod" }, "pod", /not a valid pod name \(a DNS-1123 subdomain\)/],
      [{ pod: `${"a".repeat(250)}.bcd` }, "pod", /at most 253/],
      [{ namespace: "Apps" }, "namespace", /DNS-1123 label/],
      [{ namespace: "a".repeat(64) }, "namespace", /at most 63/],
      [{ namespace: 7 }, "namespace", /string/],
      [{ labels: { podNamespace: "x" } }, "labels.podNamespace", /set by the provider/],
      [{ labels: { podUid: "x" } }, "labels.podUid", /set by the provider/],
      [{ labels: { nodeName: "x" } }, "labels.nodeName", /set by the provider/],
      [{ networkService: "Red" }, "networkService", /DNS-1123/],
      [{ labels: { podName: "x" } }, "labels.podName", /set by the provider/],
      [{ labels: { app: 5 } }, "labels.app", /must be a string/],
      [{ labels: ["a"] }, "labels", /map of string/],
    ])("rejects %j on %s", async (patch, property, reason) => {
      const failures = await failuresOf(podAttachment, { ...ok, ...patch });
      expect(failures.find((f) => f.property === property)?.reason).toMatch(reason);
    });
    it("lets unknown values through during preview", async () => {
      expect(await failuresOf(podAttachment, { pod: UNKNOWN, namespace: UNKNOWN, networkService: UNKNOWN, interfaceName: UNKNOWN, labels: { a: UNKNOWN } })).toEqual([]);
    });
    it("defaults the namespace to \"default\" and accepts a Deployment's pod name and a dotted one", async () => {
      expect((await podAttachment.check!({}, { __logicalName: "a", ...ok })).inputs.namespace).toBe("default");
      const r = await podAttachment.check!({}, { __logicalName: "a", pod: "web-5d8f7c9b6-x2k4q", namespace: "apps", networkService: "red" });
      expect(r.failures).toEqual([]);
      expect(r.inputs.namespace).toBe("apps");
      expect(await failuresOf(podAttachment, { ...ok, pod: "db.0" })).toEqual([]);
    });
    it("a refresh says NSM cannot be reached, where, and how to start the lab", async () => {
      const outs = { pod: "p", networkService: "red", connectionId: "c-down", node: "k8s-1", netns: "tfm-pod-p" };
      await expect(podAttachment.read!("c-down", outs)).rejects.toThrow(
        /^NSM MonitorConnections at tcp:\/\/127\.0\.0\.1:9: cannot reach the server \(ECONNREFUSED\)\. Is the lab running\? Start it with `npx tfmesh lab up`/,
      );
    });
  });
});

describe("with the APIs reachable, check also catches what would fail at create", () => {
  const t = fakeCloudFixture();

  it("an image or flavor that does not exist", async () => {
    const failures = await failuresOf(virtualMachine, { image: "ubuntu", flavor: "m1.huge", networks: ["red"] });
    expect(failures.find((f) => f.property === "image")?.reason).toMatch(/image "ubuntu" in Glance does not exist/);
    expect(failures.find((f) => f.property === "flavor")?.reason).toMatch(/flavor "m1.huge" in Nova does not exist/);
    expect(await failuresOf(virtualMachine, { image: "cirros", flavor: "m1.tiny", networks: ["red"] })).toEqual([]);
  });

  it("a network uuid that does not exist (names may be created by the same program)", async () => {
    const failures = await failuresOf(virtualMachine, { image: "cirros", flavor: "m1.tiny", networks: ["00000000-0000-4000-8000-00000000dead", "not-yet-created"] });
    expect(failures.map((f) => f.property)).toEqual(["networks[0].network"]);
  });

  it("a project that does not exist, and a network name that is taken", async () => {
    expect(await propertiesFailing(virtualNetwork, { name: "red", project: "default-domain:nope", subnets: [{ cidr: "10.1.1.0/24" }] })).toEqual(["project"]);
    const created = await virtualNetwork.create({ name: "taken", project: "default-domain:admin", ipam: "default-domain:default-project:default-network-ipam", subnets: [{ cidr: "10.5.5.0/24" }] });
    const failures = await failuresOf(virtualNetwork, { name: "taken", subnets: [{ cidr: "10.5.5.0/24" }] });
    expect(failures[0]).toMatchObject({ property: "name" });
    expect(failures[0]!.reason).toContain(created.id);
    // ...but not for the network's own later updates
    expect(await failuresOf(virtualNetwork, { name: "taken", subnets: [{ cidr: "10.5.5.0/24" }] }, { name: "taken" })).toEqual([]);
  });

  it("a network service name already in use", async () => {
    t.cloud.state.services.set("svc", { name: "svc", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.9.0.0/24" } });
    expect(await propertiesFailing(networkService, { name: "svc", virtualNetwork: "default-domain:admin:red" })).toEqual(["name"]);
  });
});

describe("diff", () => {
  const vnOld = {
    name: "red",
    project: "default-domain:admin",
    ipam: "default-domain:default-project:default-network-ipam",
    uuid: "u",
    subnets: [{ cidr: "10.1.1.0/24", gateway: "10.1.1.254", dnsServer: "10.1.1.253", subnetUuid: "s", allocationPools: [], addrFromStart: false }],
  };
  const vnNew = { name: "red", project: "default-domain:admin", ipam: vnOld.ipam, subnets: [{ cidr: "10.1.1.0/24" }] };

  it("VirtualNetwork: no change when the server's defaults match the unset fields", async () => {
    expect(await virtualNetwork.diff!("u", vnOld, vnNew)).toMatchObject({ changes: false, replaces: [] });
  });
  it("VirtualNetwork: subnets update in place, name and project replace", async () => {
    expect(await virtualNetwork.diff!("u", vnOld, { ...vnNew, subnets: [{ cidr: "10.1.1.0/24" }, { cidr: "10.1.2.0/24" }] })).toMatchObject({ changes: true, replaces: [] });
    expect(await virtualNetwork.diff!("u", vnOld, { ...vnNew, subnets: [{ cidr: "10.1.1.0/24", gateway: "10.1.1.1" }] })).toMatchObject({ changes: true, replaces: [] });
    expect(await virtualNetwork.diff!("u", vnOld, { ...vnNew, name: "crimson" })).toMatchObject({ changes: true, replaces: ["name"] });
    expect(await virtualNetwork.diff!("u", vnOld, { ...vnNew, project: "default-domain:demo" })).toMatchObject({ changes: true, replaces: ["project"] });
  });
  it("VirtualNetwork: an unknown subnet list counts as a change", async () => {
    expect(await virtualNetwork.diff!("u", vnOld, { ...vnNew, subnets: UNKNOWN })).toMatchObject({ changes: true });
  });

  const vmOld = { name: "vm1", image: "cirros", flavor: "m1.tiny", networks: [{ network: "red" }], host: "compute-1", status: "ACTIVE" };
  it("VirtualMachine: rename in place; image, flavor, networks and a requested host replace", async () => {
    expect(await virtualMachine.diff!("id", vmOld, { name: "vm1", image: "cirros", flavor: "m1.tiny", networks: [{ network: "red" }] })).toMatchObject({ changes: false });
    expect(await virtualMachine.diff!("id", vmOld, { ...vmOld, name: "vm2" })).toMatchObject({ changes: true, replaces: [] });
    expect((await virtualMachine.diff!("id", vmOld, { ...vmOld, networks: [{ network: "blue" }] })).replaces).toEqual(["networks"]);
    expect((await virtualMachine.diff!("id", vmOld, { ...vmOld, image: "ubuntu", flavor: "m1.small" })).replaces).toEqual(["image", "flavor"]);
    expect((await virtualMachine.diff!("id", vmOld, { ...vmOld, host: "compute-2" })).replaces).toEqual(["host"]);
  });
  it("VirtualMachine: a fixed address is released before the replacement boots", async () => {
    const d = await virtualMachine.diff!("id", vmOld, { ...vmOld, networks: [{ network: "blue", fixedIp: "10.2.2.9" }] });
    expect(d).toMatchObject({ replaces: ["networks"], deleteBeforeReplace: true });
  });

  const attOld = { pod: "red-pod", networkService: "red", connectionId: "c", interfaceName: "nsm-1", state: "UP" };
  it("PodAttachment: labels re-request in place; pod, namespace, service and a requested interface name replace", async () => {
    const news = { pod: "red-pod", networkService: "red", connectionId: "c" };
    expect(await podAttachment.diff!("c", attOld, news)).toMatchObject({ changes: false });
    // State from before namespaces were inputs meant "default".
    expect(await podAttachment.diff!("c", attOld, { ...news, namespace: "default" })).toMatchObject({ changes: false });
    expect((await podAttachment.diff!("c", { ...attOld, namespace: "default" }, { ...news, namespace: "apps" })).replaces).toEqual(["namespace"]);
    expect((await podAttachment.diff!("c", attOld, { ...news, pod: "blue-pod" })).replaces).toEqual(["pod"]);
    expect(await podAttachment.diff!("c", attOld, { ...news, labels: { app: "x" } })).toMatchObject({ changes: true, replaces: [] });
    expect((await podAttachment.diff!("c", attOld, { ...news, networkService: "blue" })).replaces).toEqual(["networkService"]);
    expect((await podAttachment.diff!("c", attOld, { ...news, interfaceName: "nsm-7" })).replaces).toEqual(["interfaceName"]);
  });
  it("PodAttachment: a connection refresh found DOWN is updated (healed) on the next up", async () => {
    expect(await podAttachment.diff!("c", { ...attOld, state: "DOWN" }, { pod: "red-pod", networkService: "red", connectionId: "c" })).toMatchObject({ changes: true, replaces: [] });
  });

  it("NetworkService: rebinding updates in place, renaming replaces", async () => {
    const old = { name: "red", forwarder: "tungsten", payload: "ETHERNET", virtualNetwork: "default-domain:admin:red" };
    expect(await networkService.diff!("red", old, { ...old, virtualNetwork: "default-domain:admin:crimson" })).toMatchObject({ changes: true, replaces: [] });
    expect((await networkService.diff!("red", old, { ...old, name: "crimson" })).replaces).toEqual(["name"]);
  });
});
