// What `pulumi refresh` makes of each resource (read against the fake APIs): an unchanged object
// hands back exactly the inputs the program had (only the keys the user set, in the user's form)
// and the same outputs, so refresh reports nothing and writes nothing; a change made outside
// Pulumi comes back as a changed input, so refresh shows it and the next up repairs it.
import { beforeAll, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import { provider as networkService } from "../../provider/impl/networkService.ts";
import { provider as podAttachment } from "../../provider/impl/podAttachment.ts";
import { provider as virtualMachine } from "../../provider/impl/virtualMachine.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";
import { putPod } from "./fakes/kubernetes.ts";
import { fakeCloudFixture } from "./providerFakes.ts";

type Provider = pulumi.dynamic.ResourceProvider;

const t = fakeCloudFixture();
beforeAll(() => {
  for (const name of ["red-pod", "owned-pod"]) putPod(t.cloud.state, name);
  putPod(t.cloud.state, "api-pod", { namespace: "apps", node: "k8s-1" });
});

// The engine stores the provider's text next to the inputs and outputs; read must not echo it into inputs.
const PROVIDER_TEXT = { __provider: "serialized provider text" };

async function created(p: Provider, logical: string, news: Record<string, unknown>) {
  const checked = await p.check!({}, { __logicalName: logical, ...news });
  expect(checked.failures).toEqual([]);
  const inputs = checked.inputs as Record<string, unknown>;
  const { id, outs } = await p.create({ ...inputs, ...PROVIDER_TEXT });
  return { id, inputs, outs: { ...outs, ...PROVIDER_TEXT } as Record<string, any> };
}

const withoutProvider = ({ __provider: _, ...rest }: Record<string, unknown>) => rest;

/** What the engine does on refresh: read, then diff the refreshed outputs against the stored inputs. */
async function refreshed(p: Provider, id: string, inputs: Record<string, unknown>, outs: Record<string, unknown>) {
  const r = await p.read!(id, outs);
  const diff = await p.diff!(id, { ...r.props, ...PROVIDER_TEXT }, inputs);
  return { inputs: r.inputs, props: r.props as Record<string, any>, diff };
}

async function expectNoDrift(p: Provider, id: string, inputs: Record<string, unknown>, outs: Record<string, unknown>) {
  const r = await refreshed(p, id, inputs, outs);
  expect(r.inputs).toEqual(inputs);
  // (The engine puts its __provider back into outputs after read either way.)
  expect(withoutProvider(r.props)).toEqual(withoutProvider(outs));
  expect(r.diff.changes).toBe(false);
  // A second refresh reads what the first one wrote and still finds nothing.
  const again = await refreshed(p, id, inputs, { ...r.props, ...PROVIDER_TEXT });
  expect(again.inputs).toEqual(inputs);
}

describe("refresh of an unchanged resource hands back the inputs as the program wrote them", () => {
  it("VirtualNetwork with only a cidr: no gateway, DNS address or subnet uuid appears in its inputs", async () => {
    const { id, inputs, outs } = await created(virtualNetwork, "red", { name: "red", subnets: [{ cidr: "10.1.1.0/24" }] });
    await expectNoDrift(virtualNetwork, id, inputs, outs);
  });

  it("VirtualNetwork with addrFromStart, a gateway and an allocation pool keeps them as written", async () => {
    const { id, inputs, outs } = await created(virtualNetwork, "blue", {
      name: "blue",
      subnets: [{ cidr: "10.2.2.0/24", addrFromStart: true }, { cidr: "10.2.3.0/24", gateway: "10.2.3.1", allocationPools: [{ start: "10.2.3.10", end: "10.2.3.20" }] }],
    });
    await expectNoDrift(virtualNetwork, id, inputs, outs);
  });

  it("VirtualMachine without a host: the host Nova picked stays an output only", async () => {
    const { id, inputs, outs } = await created(virtualMachine, "vm-a", { name: "vm-a", image: "cirros", flavor: "m1.tiny", networks: ["red"] });
    expect(outs.host).toBe("compute-1");
    await expectNoDrift(virtualMachine, id, inputs, outs);
  });

  it("VirtualMachine with a host and a fixed address keeps both as written", async () => {
    const { id, inputs, outs } = await created(virtualMachine, "vm-b", {
      name: "vm-b",
      image: "cirros",
      flavor: "m1.tiny",
      networks: [{ network: "red", fixedIp: "10.1.1.77" }],
      host: "compute-2",
      timeoutSeconds: 30,
    });
    await expectNoDrift(virtualMachine, id, inputs, outs);
  });

  it("NetworkService with the defaulted forwarder and payload", async () => {
    const { id, inputs, outs } = await created(networkService, "red", { name: "red", virtualNetwork: "default-domain:admin:red" });
    await expectNoDrift(networkService, id, inputs, outs);
  });

  it("PodAttachment without an interface name: the generated nsm-<n> stays an output only", async () => {
    const { id, inputs, outs } = await created(podAttachment, "att-a", { pod: "red-pod", networkService: "red" });
    expect(outs.interfaceName).toMatch(/^nsm-\d+$/);
    await expectNoDrift(podAttachment, id, inputs, outs);
  });

  it("PodAttachment with an interface name and labels", async () => {
    const { id, inputs, outs } = await created(podAttachment, "att-b", { pod: "red-pod", networkService: "red", interfaceName: "red9", labels: { app: "web" } });
    await expectNoDrift(podAttachment, id, inputs, outs);
  });

  it("PodAttachment of a pod in another namespace", async () => {
    const { id, inputs, outs } = await created(podAttachment, "att-c", { pod: "api-pod", namespace: "apps", networkService: "red" });
    expect(outs).toMatchObject({ namespace: "apps", pod: "api-pod" });
    await expectNoDrift(podAttachment, id, inputs, outs);
  });
});

describe("refresh of an unchanged resource keeps the URN its class gave it (__owner)", () => {
  const owner = (type: string, name: string) => ({ __owner: `urn:pulumi:dev::proj::pulumi-nodejs:dynamic/${type}::${name}` });

  it.each([
    ["VirtualNetwork", virtualNetwork, "tf:VirtualNetwork", { name: "owned-net", subnets: [{ cidr: "10.6.6.0/24" }] }],
    ["VirtualMachine", virtualMachine, "openstack:VirtualMachine", { name: "owned-vm", image: "cirros", flavor: "m1.tiny", networks: ["red"] }],
    ["NetworkService", networkService, "nsm:NetworkService", { name: "owned-svc", virtualNetwork: "default-domain:admin:red" }],
    ["PodAttachment", podAttachment, "nsm:PodAttachment", { pod: "owned-pod", networkService: "red" }],
  ] as Array<[string, Provider, string, Record<string, unknown>]>)("%s", async (_kind, p, type, news) => {
    const { id, inputs, outs } = await created(p, String(news.name ?? "owned-att"), { ...news, ...owner(type, String(news.name ?? "owned-att")) });
    expect(inputs.__owner).toBe(owner(type, String(news.name ?? "owned-att")).__owner);
    await expectNoDrift(p, id, inputs, outs);
  });
});

describe("refresh of a resource changed outside Pulumi shows the change as drift", () => {
  it("a VM renamed through Nova: the new name in the inputs, everything else as written, an in-place update", async () => {
    const { id, inputs, outs } = await created(virtualMachine, "vm-c", { name: "vm-c", image: "cirros", flavor: "m1.tiny", networks: ["red"] });
    t.cloud.state.servers.get(id)!.name = "vm-c-renamed";
    const r = await refreshed(virtualMachine, id, inputs, outs);
    expect(r.inputs).toEqual({ ...inputs, name: "vm-c-renamed" });
    expect(r.props.name).toBe("vm-c-renamed");
    expect(r.diff).toMatchObject({ changes: true, replaces: [] });
  });

  it("a VM moved to another host when the program asked for one: the live host in the inputs, a replacement", async () => {
    const { id, inputs, outs } = await created(virtualMachine, "vm-d", { name: "vm-d", image: "cirros", flavor: "m1.tiny", networks: ["red"], host: "compute-2" });
    t.cloud.state.servers.get(id)!.host = "compute-1";
    const r = await refreshed(virtualMachine, id, inputs, outs);
    expect(r.inputs).toEqual({ ...inputs, host: "compute-1" });
    expect(r.diff).toMatchObject({ changes: true, replaces: ["host"] });
  });

  it("a subnet gateway changed in TF: that gateway in the subnet as written, an in-place update", async () => {
    const { id, inputs, outs } = await created(virtualNetwork, "green", { name: "green", subnets: [{ cidr: "10.5.1.0/24" }] });
    t.cloud.state.vns.get(id)!.network_ipam_refs[0]!.attr.ipam_subnets[0]!.default_gateway = "10.5.1.1";
    const r = await refreshed(virtualNetwork, id, inputs, outs);
    expect(r.inputs).toEqual({ ...inputs, subnets: [{ cidr: "10.5.1.0/24", gateway: "10.5.1.1" }] });
    expect(r.diff).toMatchObject({ changes: true, replaces: [] });
  });

  it("a network service re-registered with another payload", async () => {
    const { id, inputs, outs } = await created(networkService, "blue", { name: "blue", virtualNetwork: "default-domain:admin:blue" });
    t.cloud.state.services.get("blue")!.payload = "IP";
    const r = await refreshed(networkService, id, inputs, outs);
    expect(r.inputs).toEqual({ ...inputs, payload: "IP" });
    expect(r.diff.changes).toBe(true);
  });

  it("a pod deleted through the API server and made again by its owner (a new uid): state DOWN, an in-place update", async () => {
    putPod(t.cloud.state, "rs-pod");
    const { id, inputs, outs } = await created(podAttachment, "att-rs", { pod: "rs-pod", networkService: "red" });
    putPod(t.cloud.state, "rs-pod");
    const r = await refreshed(podAttachment, id, inputs, outs);
    expect(r.inputs).toEqual(inputs);
    expect(r.props).toMatchObject({ state: "DOWN", podUid: outs.podUid });
    expect(r.diff).toMatchObject({ changes: true, replaces: [] });
  });
});
