// create / read / update / delete of every resource against the fake APIs: what ends up on the
// wire, what the outputs say, how refresh reports drift and disappearance, and that delete of
// something already gone succeeds.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CREATED, CREATING, PartialCreateError, STATE_METADATA } from "../../provider/impl/identity.ts";
import { provider as networkService } from "../../provider/impl/networkService.ts";
import { podWait } from "../../provider/impl/kubePod.ts";
import { provider as podAttachment } from "../../provider/impl/podAttachment.ts";
import { provider as virtualMachine } from "../../provider/impl/virtualMachine.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";
import { putPod } from "./fakes/kubernetes.ts";
import { closeConnectionsOfPod } from "./fakes/nsm.ts";
import { fakeCloudFixture } from "./providerFakes.ts";

const t = fakeCloudFixture();

async function checked(p: typeof virtualNetwork, logical: string, news: Record<string, unknown>) {
  const r = await p.check!({}, { __logicalName: logical, ...news });
  expect(r.failures).toEqual([]);
  return r.inputs;
}

describe("VirtualNetwork", () => {
  it("creates the VN on the default ipam and reports what TF computed", async () => {
    const inputs = await checked(virtualNetwork, "red", { name: "red", subnets: [{ cidr: "10.1.1.0/24" }] });
    const { id, outs } = await virtualNetwork.create(inputs);
    const sent = t.cloud.state.vns.get(id)!;
    expect(sent.fq_name).toEqual(["default-domain", "admin", "red"]);
    expect(sent.network_ipam_refs[0]!.to).toEqual(["default-domain", "default-project", "default-network-ipam"]);
    expect(outs).toMatchObject({ uuid: id, fqName: "default-domain:admin:red", name: "red", project: "default-domain:admin" });
    expect(outs.networkId).toBeGreaterThan(0);
    expect(outs.subnets).toEqual([{ cidr: "10.1.1.0/24", gateway: "10.1.1.254", dnsServer: "10.1.1.253", subnetUuid: expect.any(String), allocationPools: [], addrFromStart: false }]);
  });

  it("updates subnets in place, keeping the uuid of a subnet that stays", async () => {
    const inputs = await checked(virtualNetwork, "grow", { name: "grow", subnets: [{ cidr: "10.3.1.0/24" }] });
    const { id, outs } = await virtualNetwork.create(inputs);
    const { outs: after } = await virtualNetwork.update!(id, outs, { ...inputs, subnets: [{ cidr: "10.3.1.0/24" }, { cidr: "10.3.2.0/24", gateway: "10.3.2.1" }] });
    expect(after.uuid).toBe(id);
    expect(after.subnets[0].subnetUuid).toBe(outs.subnets[0].subnetUuid);
    expect(after.subnets[1]).toMatchObject({ cidr: "10.3.2.0/24", gateway: "10.3.2.1" });
  });

  it("refresh shows drift made outside Pulumi, and a deleted VN as gone; delete twice is fine", async () => {
    const inputs = await checked(virtualNetwork, "drift", { name: "drift", subnets: [{ cidr: "10.4.1.0/24" }] });
    const { id, outs } = await virtualNetwork.create(inputs);
    t.cloud.state.vns.get(id)!.network_ipam_refs[0]!.attr.ipam_subnets[0]!.default_gateway = "10.4.1.1";
    const r = await virtualNetwork.read!(id, outs);
    expect(r.props.subnets[0].gateway).toBe("10.4.1.1");
    expect(await virtualNetwork.diff!(id, r.props, inputs)).toMatchObject({ changes: true });
    await virtualNetwork.delete!(id, outs);
    expect(t.cloud.state.vns.has(id)).toBe(false);
    await virtualNetwork.delete!(id, outs);
    expect((await virtualNetwork.read!(id, outs)).id).toBe("");
  });
});

describe("VirtualMachine", () => {
  it("boots on a network by name, waits for ACTIVE and reports ports with MACs", async () => {
    const inputs = await checked(virtualMachine, "vm1", { name: "vm1", image: "cirros", flavor: "m1.tiny", networks: ["red"], host: "compute-2" });
    const { id, outs } = await virtualMachine.create(inputs);
    expect(outs).toMatchObject({ serverId: id, status: "ACTIVE", host: "compute-2", imageId: "11111111-2222-4333-8444-555555555555", flavorId: "1", adminPass: "generated-pass" });
    expect(outs.ports).toHaveLength(1);
    expect(outs.ports[0]).toMatchObject({ networkId: "7d0a5a55-0000-4000-8000-000000000001", networkName: "red", ip: outs.ip });
    expect(outs.ports[0].mac).toMatch(/^02:/);
    expect(outs.addresses).toEqual({ red: [outs.ip] });

    const renamed = await virtualMachine.update!(id, outs, { ...inputs, name: "vm1-renamed" });
    expect(t.cloud.state.servers.get(id)!.name).toBe("vm1-renamed");
    expect(renamed.outs.adminPass).toBe("generated-pass");

    await virtualMachine.delete!(id, outs);
    expect(t.cloud.state.servers.has(id)).toBe(false);
    expect((await virtualMachine.read!(id, outs)).id).toBe("");
  });

  it("a server that fails to boot is deleted again and the error says why", async () => {
    t.cloud.state.images.push({ id: "99999999-0000-4333-8444-555555555555", name: "broken", status: "active" });
    const before = t.cloud.state.servers.size;
    const inputs = await checked(virtualMachine, "bad", { name: "bad", image: "broken", flavor: "m1.tiny", networks: ["red"] });
    await expect(virtualMachine.create(inputs)).rejects.toThrow(/No valid host was found.*deleted again/);
    expect(t.cloud.state.servers.size).toBe(before);
  });

  it("a server that fails to boot and cannot be deleted either is reported to the engine with its id, not dropped", async () => {
    const inputs = await checked(virtualMachine, "stuck", { name: "stuck", image: "broken", flavor: "m1.tiny", networks: ["red"] });
    t.cloud.state.deleteFails = true;
    const err = (await virtualMachine.create({ ...inputs, __provider: "provider text" }).catch((e: unknown) => e)) as PartialCreateError;
    t.cloud.state.deleteFails = false;
    expect(err).toBeInstanceOf(PartialCreateError);
    const server = [...t.cloud.state.servers.values()].find((s) => s.name === "stuck")!;
    expect(err.id).toBe(server.id);
    expect(err.message).toMatch(/went to ERROR.*deleting the server .* also failed.*the stack keeps/);
    expect(err.properties).toMatchObject({ serverId: server.id, name: "stuck", __provider: "provider text", __inputs: { name: "stuck", image: "broken" } });
    // What the engine then does with it: destroy deletes it.
    await virtualMachine.delete!(err.id, err.properties);
    expect(t.cloud.state.servers.has(server.id)).toBe(false);
  });

  it("a server the engine keeps from a partial create is marked created by refresh (no retried create takes it), and the next up waits for ACTIVE", async () => {
    const owner = "urn:pulumi:dev::proj::pulumi-nodejs:dynamic/openstack:VirtualMachine::half";
    const inputs = await checked(virtualMachine, "half", { name: "half", image: "cirros", flavor: "m1.tiny", networks: ["red"], __owner: owner });
    const { id, outs } = await virtualMachine.create(inputs);
    // As a create reported partial leaves it: still in BUILD, still "creating".
    const server = t.cloud.state.servers.get(id)!;
    Object.assign(server, { status: "BUILD", polls: 0, metadata: { ...server.metadata, [STATE_METADATA]: CREATING } });
    const half = { ...outs, status: "BUILD" };
    const r = await virtualMachine.read!(id, half);
    expect(server.metadata?.[STATE_METADATA]).toBe(CREATED);
    expect(r.props.status).toBe("BUILD");
    expect(await virtualMachine.diff!(id, r.props, inputs)).toMatchObject({ changes: true, replaces: [] });
    const { outs: done } = await virtualMachine.update!(id, r.props, inputs);
    expect(done.status).toBe("ACTIVE");
    await virtualMachine.delete!(id, done);
  });
});

describe("NetworkService", () => {
  it("registers the record bound to an existing VN, updates it in place, deletes it", async () => {
    const inputs = await checked(networkService, "red", { name: "red", virtualNetwork: "default-domain:admin:red" });
    const { id, outs } = await networkService.create(inputs);
    expect(id).toBe("red");
    expect(t.cloud.state.services.get("red")).toEqual({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
    expect(outs).toMatchObject({ name: "red", forwarder: "tungsten", virtualNetwork: "default-domain:admin:red" });
    await networkService.update!(id, outs, { ...inputs, payload: "IP" });
    expect(t.cloud.state.services.get("red")!.payload).toBe("IP");
    expect((await networkService.read!(id, outs)).props.payload).toBe("IP");
  });

  it("refuses to bind a service to a VN that does not exist", async () => {
    const inputs = await checked(networkService, "ghost", { name: "ghost", virtualNetwork: "default-domain:admin:ghost" });
    await expect(networkService.create(inputs)).rejects.toThrow(/virtualNetwork: default-domain:admin:ghost does not exist in TF/);
    expect(t.cloud.state.services.has("ghost")).toBe(false);
  });
});

describe("PodAttachment on Kubernetes pods", () => {
  let redPodUid: string;
  const wait = { ...podWait };
  beforeAll(() => {
    redPodUid = putPod(t.cloud.state, "red-pod").metadata.uid!;
  });
  afterEach(() => Object.assign(podWait, wait));

  it("attaches twice in parallel without names: nsm-1 and nsm-2, each with address, MAC and routes, labelled with the pod's node, name, namespace and uid", async () => {
    const a = await checked(podAttachment, "a", { pod: "red-pod", networkService: "red" });
    const b = await checked(podAttachment, "b", { pod: "red-pod", networkService: "red" });
    expect(a.namespace).toBe("default");
    const [ra, rb] = await Promise.all([podAttachment.create(a), podAttachment.create(b)]);
    expect([ra.outs.interfaceName, rb.outs.interfaceName].sort()).toEqual(["nsm-1", "nsm-2"]);
    expect(ra.id).toBe(a.connectionId);
    expect(ra.outs).toMatchObject({ node: "k8s-1", namespace: "default", podUid: redPodUid, netns: "tfm-pod-default-red-pod", prefixLength: 24, state: "UP", endpoint: "tungsten@k8s-1" });
    expect(ra.outs.ip).toMatch(/^10\.1\.1\.\d+$/);
    expect(ra.outs.mac).toMatch(/^02:/);
    expect(ra.outs.routes).toEqual([{ prefix: "10.1.1.0/24", nextHop: "10.1.1.254" }]);
    const req = t.cloud.state.requests.at(-1) as any;
    expect(req.mechanism_preferences[0]).toMatchObject({ cls: "LOCAL", type: "KERNEL" });
    expect(req.mechanism_preferences[0].parameters).toMatchObject({ inodeURL: "file:///var/run/netns/tfm-pod-default-red-pod", netnsName: "tfm-pod-default-red-pod" });
    expect(req.connection.labels).toEqual({ nodeName: "k8s-1", podName: "red-pod", podNamespace: "default", podUid: redPodUid });
    await podAttachment.delete!(rb.id, rb.outs);
    await podAttachment.delete!(ra.id, ra.outs);
  });

  it("a pod without the netns annotation (a real cluster) is requested without an inodeURL: the forwarder finds it by its uid", async () => {
    const uid = putPod(t.cloud.state, "plain", { namespace: "apps", node: "k8s-1", netns: null }).metadata.uid!;
    const inputs = await checked(podAttachment, "plain", { pod: "plain", namespace: "apps", networkService: "red" });
    const { id, outs } = await podAttachment.create(inputs);
    const req = t.cloud.state.requests.at(-1) as any;
    expect(req.mechanism_preferences[0].parameters?.inodeURL).toBeUndefined();
    expect(req.mechanism_preferences[0].parameters?.netnsName).toBeUndefined();
    expect(req.connection.labels).toEqual({ nodeName: "k8s-1", podName: "plain", podNamespace: "apps", podUid: uid });
    expect(outs).toMatchObject({ pod: "plain", namespace: "apps", podUid: uid, netns: "", state: "UP" });
    await podAttachment.delete!(id, outs);
  });

  it("waits for a pod that is not scheduled and running yet, then attaches it", async () => {
    putPod(t.cloud.state, "late", { phase: "Pending" });
    const inputs = await checked(podAttachment, "late", { pod: "late", networkService: "red" });
    setTimeout(() => putPod(t.cloud.state, "late", { node: "k8s-1" }), 400);
    const started = Date.now();
    const { id, outs } = await podAttachment.create(inputs);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(outs).toMatchObject({ node: "k8s-1", netns: "tfm-pod-default-late", state: "UP" });
    await podAttachment.delete!(id, outs);
  });

  it("fails, bounded, for a pod that does not run in time; at once for one that is being deleted or has completed", async () => {
    podWait.timeoutMs = 300;
    putPod(t.cloud.state, "stuck", { phase: "Pending" });
    await expect(podAttachment.create(await checked(podAttachment, "stuck", { pod: "stuck", networkService: "red" }))).rejects.toThrow(
      /pod: pod "default\/stuck" is not scheduled to a node yet after 0\.\d s; attach it once it runs/,
    );
    putPod(t.cloud.state, "going", { deleting: true });
    await expect(podAttachment.create(await checked(podAttachment, "going", { pod: "going", networkService: "red" }))).rejects.toThrow(/pod: pod "default\/going" is being deleted/);
    putPod(t.cloud.state, "done", { phase: "Succeeded" });
    await expect(podAttachment.create(await checked(podAttachment, "done", { pod: "done", networkService: "red" }))).rejects.toThrow(/pod: pod "default\/done" has completed/);
    expect([...t.cloud.state.connections.values()].filter((c) => ["stuck", "going", "done"].includes(c.labels.podName!))).toEqual([]);
  });

  it("refresh reports a lost kernel interface as DOWN; the next update re-requests and heals it", async () => {
    const inputs = await checked(podAttachment, "c", { pod: "red-pod", networkService: "red", interfaceName: "red0" });
    const { id, outs } = await podAttachment.create(inputs);
    expect((await podAttachment.read!(id, outs)).props.state).toBe("UP");

    t.cloud.state.lostInterfaces.add("red-pod/red0");
    const refreshed = await podAttachment.read!(id, outs);
    expect(refreshed.props.state).toBe("DOWN");
    const d = await podAttachment.diff!(id, refreshed.props, inputs);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const healed = await podAttachment.update!(id, refreshed.props, inputs);
    expect(healed.outs).toMatchObject({ state: "UP", interfaceName: "red0", ip: outs.ip });
    expect((await podAttachment.read!(id, healed.outs)).props.state).toBe("UP");

    await podAttachment.delete!(id, healed.outs);
    expect(t.cloud.state.connections.has(id)).toBe(false);
    expect((await podAttachment.read!(id, healed.outs)).id).toBe("");
    await podAttachment.delete!(id, healed.outs);
  });

  it("refresh reports an interface its VN no longer carries (VMI deleted in TF) as DOWN; the next update heals it", async () => {
    const inputs = await checked(podAttachment, "e", { pod: "red-pod", networkService: "red", interfaceName: "red1" });
    const { id, outs } = await podAttachment.create(inputs);
    expect((await podAttachment.read!(id, outs)).props.state).toBe("UP");

    t.cloud.state.detachedInterfaces.add("red-pod/red1");
    const refreshed = await podAttachment.read!(id, outs);
    expect(refreshed.props).toMatchObject({ state: "DOWN", interfaceName: "red1", ip: outs.ip, mac: outs.mac });
    expect(await podAttachment.diff!(id, refreshed.props, inputs)).toMatchObject({ changes: true, replaces: [] });
    const healed = await podAttachment.update!(id, refreshed.props, inputs);
    expect((await podAttachment.read!(id, healed.outs)).props.state).toBe("UP");
    await podAttachment.delete!(id, healed.outs);
  });

  it("a pod replaced under the same name (another uid) shows as DOWN on refresh; the update closes the old connection and attaches the new pod with the same connection id", async () => {
    const first = putPod(t.cloud.state, "web", { node: "k8s-1" }).metadata.uid!;
    const inputs = await checked(podAttachment, "web", { pod: "web", networkService: "red" });
    const { id, outs } = await podAttachment.create(inputs);
    expect(outs.podUid).toBe(first);
    const second = putPod(t.cloud.state, "web", { node: "k8s-1", netns: "tfm-pod-default-web-2" }).metadata.uid!;
    const refreshed = await podAttachment.read!(id, outs);
    expect(refreshed.props).toMatchObject({ state: "DOWN", podUid: first });
    expect(await podAttachment.diff!(id, refreshed.props, inputs)).toMatchObject({ changes: true, replaces: [] });
    const closesBefore = t.cloud.state.requests.length;
    const { outs: after } = await podAttachment.update!(id, refreshed.props, inputs);
    expect(t.cloud.state.requests.length).toBe(closesBefore + 1);
    expect(after).toMatchObject({ connectionId: id, podUid: second, netns: "tfm-pod-default-web-2", state: "UP" });
    expect(t.cloud.state.connections.get(id)!.labels.podUid).toBe(second);
    expect((await podAttachment.read!(id, after)).props.state).toBe("UP");

    // Gone while its connection stays (nothing closed it): drift too.
    t.cloud.state.kubePods.delete("default/web");
    expect((await podAttachment.read!(id, after)).props.state).toBe("DOWN");
    await podAttachment.delete!(id, after);
  });

  it("a pod deleted with its connections (as the kubelet closes them) reads as gone, so the next up creates the attachment again", async () => {
    putPod(t.cloud.state, "brief");
    const inputs = await checked(podAttachment, "brief", { pod: "brief", networkService: "red" });
    const { id, outs } = await podAttachment.create(inputs);
    t.cloud.state.kubePods.delete("default/brief");
    closeConnectionsOfPod(t.cloud.state, "brief");
    expect((await podAttachment.read!(id, outs)).id).toBe("");
  });

  it("attaching a pod that does not exist fails naming the pod and the cluster", async () => {
    const inputs = await checked(podAttachment, "d", { pod: "nobody", networkService: "red" });
    await expect(podAttachment.create(inputs)).rejects.toThrow(new RegExp(`pod: no pod "default/nobody" in the cluster at ${t.cloud.url}/kube`));
  });

  it("attaching to a service NSM does not know fails with NSM's answer, naming the call, the target and the service", async () => {
    const inputs = await checked(podAttachment, "f", { pod: "red-pod", networkService: "nowhere" });
    await expect(podAttachment.create(inputs)).rejects.toThrow(`NSM Request at ${t.cloud.nsmTarget} failed with NOT_FOUND: network service "nowhere" is not registered`);
    expect(t.cloud.state.connections.has(inputs.connectionId)).toBe(false);
  });
});
