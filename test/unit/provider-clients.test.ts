// The wire clients against a small fake of each API: Keystone auth and re-auth, Nova
// microversions and polling, lookups by name, NSM calls, the Kubernetes client from a kubeconfig, and the errors a user sees.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError, HttpError } from "../../lib/http/client.ts";
import { LAB_START_HINT } from "../../wire/settings.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { isNsmUnreachable } from "../../wire/nsm/grpcErrors.ts";
import { OpenStackClient } from "../../wire/openstack/index.ts";
import { loadKubeconfig } from "../../wire/kubeconfig.ts";
import { KubernetesClient, resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";
import { readLabEndpoints } from "../../wire/settings.ts";
import { putPod } from "./fakes/kubernetes.ts";
import { PASSWORD, startFakeCloud } from "./providerFakes.ts";
import type { FakeCloud } from "./providerFakes.ts";

let cloud: FakeCloud;
const settingsFor = (password: string | undefined) => ({
  authUrl: `${cloud.url}/identity`,
  userName: "admin",
  password,
  tenantName: "admin",
  userDomainName: "Default",
  projectDomainName: "Default",
  region: undefined,
});

beforeAll(async () => {
  cloud = await startFakeCloud();
});
afterAll(async () => {
  await cloud.close();
});

describe("OpenStack client", () => {
  it("authenticates once and reuses the token across services", async () => {
    const before = cloud.state.authCount;
    const os = new OpenStackClient(settingsFor(PASSWORD));
    expect((await os.glance.findImage("cirros"))?.id).toBe("11111111-2222-4333-8444-555555555555");
    expect((await os.neutron.findNetwork("red"))?.id).toBe("7d0a5a55-0000-4000-8000-000000000001");
    expect((await os.nova.findFlavor("m1.tiny"))?.id).toBe("1");
    expect(cloud.state.authCount - before).toBe(1);
  });

  it("re-authenticates once when a token is refused with 401", async () => {
    const os = new OpenStackClient(settingsFor(PASSWORD));
    await os.glance.findImage("cirros");
    const before = cloud.state.authCount;
    cloud.state.validTokens.clear(); // Keystone restarted / token revoked
    expect((await os.neutron.findNetwork("red"))?.name).toBe("red");
    expect(cloud.state.authCount - before).toBe(1);
  });

  it("a wrong password fails with the Keystone URL and status", async () => {
    const os = new OpenStackClient(settingsFor("wrong"));
    const err = await os.glance.findImage("cirros").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(401);
    expect((err as HttpError).message).toContain(`${cloud.url}/identity/v3/auth/tokens`);
  });

  it("a missing password says where to set it", async () => {
    const os = new OpenStackClient(settingsFor(undefined));
    await expect(os.nova.findFlavor("m1.tiny")).rejects.toThrow(/openstack:password.*OS_PASSWORD/);
  });

  it("sends the negotiated Nova microversion in both headers", async () => {
    const os = new OpenStackClient(settingsFor(PASSWORD));
    cloud.state.novaHeaders.length = 0;
    await os.nova.findFlavor("1");
    expect(cloud.state.novaHeaders[0]).toEqual({ "openstack-api-version": "compute 2.79", "x-openstack-nova-api-version": "2.79" });
  });

  it("finds flavors by name when GET by id answers 404, and answers undefined for unknown names", async () => {
    const os = new OpenStackClient(settingsFor(PASSWORD));
    expect((await os.nova.findFlavor("m1.tiny"))?.id).toBe("1");
    expect(await os.nova.findFlavor("m1.huge")).toBeUndefined();
    expect(await os.glance.findImage("nope")).toBeUndefined();
    expect(await os.neutron.findNetwork("nope")).toBeUndefined();
  });

  it("boots a server, polls it to ACTIVE reporting progress, and deletes it until GET is 404", async () => {
    const os = new OpenStackClient(settingsFor(PASSWORD));
    const { id } = await os.nova.createServer({ name: "vm1", imageRef: "11111111-2222-4333-8444-555555555555", flavorRef: "1", networks: [{ uuid: "7d0a5a55-0000-4000-8000-000000000001" }], host: "compute-2" });
    const seen: string[] = [];
    const server = await os.nova.waitForStatus(id, "ACTIVE", { intervalMs: 1, onProgress: (s) => seen.push(s.status) });
    expect(server.status).toBe("ACTIVE");
    expect(seen).toEqual(["BUILD", "ACTIVE"]);
    expect(server["OS-EXT-SRV-ATTR:host"]).toBe("compute-2");
    await os.nova.deleteServer(id);
    await os.nova.waitForDeleted(id, { intervalMs: 1 });
    expect(await os.nova.getServer(id)).toBeUndefined();
    await os.nova.deleteServer(id); // already gone is fine
  });

  it("a server that goes to ERROR fails the wait with Nova's fault message", async () => {
    cloud.state.images.push({ id: "99999999-2222-4333-8444-555555555555", name: "broken", status: "active" });
    const os = new OpenStackClient(settingsFor(PASSWORD));
    const { id } = await os.nova.createServer({ name: "vm-bad", imageRef: "99999999-2222-4333-8444-555555555555", flavorRef: "1", networks: [] });
    await expect(os.nova.waitForStatus(id, "ACTIVE", { intervalMs: 1 })).rejects.toThrow(/ERROR: No valid host was found/);
    await os.nova.deleteServer(id);
  });

  it("an unreachable Keystone says which URL failed and how to start the lab", async () => {
    const os = new OpenStackClient({ ...settingsFor(PASSWORD), authUrl: "http://127.0.0.1:9/v3" }, { unreachableHint: LAB_START_HINT, retries: 0 });
    const err = await os.glance.findImage("cirros").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain("http://127.0.0.1:9/v3/auth/tokens");
    expect((err as Error).message).toContain("npx tfmesh lab up");
  });
});

describe("NSM client (NSM's gRPC API)", () => {
  let nsm: NsmGrpcClient;
  beforeAll(() => {
    nsm = new NsmGrpcClient(cloud.nsmTarget, { timeoutMs: 10_000 });
  });
  afterAll(() => nsm?.dispose());

  it("registers, reads and deletes a network service; absent ones read as undefined", async () => {
    await nsm.upsertNetworkService({ name: "client-test", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
    expect((await nsm.getNetworkService("client-test"))?.tungsten?.virtual_network).toBe("default-domain:admin:red");
    expect((await nsm.listNetworkServices()).map((s) => s.name)).toContain("client-test");
    await nsm.deleteNetworkService("client-test");
    expect(await nsm.getNetworkService("client-test")).toBeUndefined();
    await nsm.deleteNetworkService("client-test"); // already gone is fine
  });

  it("requests and closes a connection; close of an unknown id succeeds", async () => {
    await nsm.upsertNetworkService({ name: "conn-test", payload: "ETHERNET", forwarder: "tungsten" });
    const conn = await nsm.request({
      connection: { id: "c-1", network_service: "conn-test", labels: { nodeName: "k8s-1", podName: "p" } },
      mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { name: "nsm-1" } }],
    });
    expect(conn.state).toBe("UP");
    expect((await nsm.getConnection("c-1"))?.id).toBe("c-1");
    await nsm.close({ id: "c-1" });
    expect(await nsm.getConnection("c-1")).toBeUndefined();
    await nsm.close({ id: "c-1" });
    await nsm.deleteNetworkService("conn-test");
  });

  it("reads one connection through the monitor, in the state its check finds, with the reason when DOWN", async () => {
    await nsm.upsertNetworkService({ name: "mon-test", payload: "ETHERNET", forwarder: "tungsten" });
    const req = (id: string) => ({ connection: { id, network_service: "mon-test", labels: { nodeName: "k8s-1", podName: "mp" } } });
    await nsm.request(req("m-1"));
    await nsm.request(req("m-2"));
    expect((await nsm.listConnections()).map((c) => c.id).sort()).toEqual(["m-1", "m-2"]);
    expect((await nsm.getConnection("m-1"))?.state).toBe("UP");
    cloud.state.lostInterfaces.add("mp/nsm-1");
    const down = await nsm.getConnection("m-1");
    expect(down?.state).toBe("DOWN");
    // In the manager's segment, after the client's.
    expect(down?.path?.path_segments.find((s) => s.name === "nsmgr@k8s-1")?.metrics?.["tfmesh.problem"]).toBe("fake/check: interface nsm-1 is missing in pod mp");
    expect((await nsm.getConnection("m-2"))?.state).toBe("UP");
    for (const id of ["m-1", "m-2"]) await nsm.close({ id });
    await nsm.deleteNetworkService("mon-test");
  });

  it("lists the forwarders registered as endpoints of the forwarder service", async () => {
    const eps = await nsm.listEndpoints("forwarder");
    expect(eps.map((e) => e.name).sort()).toEqual(["kernel@k8s-1", "tungsten@k8s-1"]);
  });

  it("failures name the call, the target, the code and NSM's message", async () => {
    const missing = await nsm.request({ connection: { id: "x-1", network_service: "nope", labels: { nodeName: "k8s-1" } } }).catch((e: unknown) => e);
    expect((missing as Error).message).toBe(`NSM Request at ${cloud.nsmTarget} failed with NOT_FOUND: network service "nope" is not registered`);
    expect(ConnectError.from(missing).code).toBe(Code.NotFound);
    const bad = await nsm.request({ connection: { id: "x-1", network_service: "nope", labels: {} } }).catch((e: unknown) => e);
    expect((bad as Error).message).toBe(`NSM Request at ${cloud.nsmTarget} failed with INVALID_ARGUMENT: connection x-1: label nodeName (the client's node) is required`);
    expect(isNsmUnreachable(bad)).toBe(false);
    await nsm.upsertNetworkService({ name: "used", payload: "ETHERNET", forwarder: "tungsten" });
    await nsm.request({ connection: { id: "u-1", network_service: "used", labels: { nodeName: "k8s-1" } } });
    await expect(nsm.deleteNetworkService("used")).rejects.toThrow(`NSM Unregister (network service) at ${cloud.nsmTarget} failed with FAILED_PRECONDITION: network service "used" is used by connection(s) u-1; close them first`);
    await nsm.close({ id: "u-1" });
    await nsm.deleteNetworkService("used");
  });

  it("an unreachable NSM says which target failed and how to start the lab, after its retries", async () => {
    for (const target of ["tcp://127.0.0.1:9", "unix:///nonexistent/nsm.io.sock"]) {
      const down = new NsmGrpcClient(target, { unreachableHint: LAB_START_HINT, retries: 1 });
      for (const call of [() => down.request({ connection: { id: "x", network_service: "s" } }), () => down.getConnection("x"), () => down.listEndpoints()]) {
        const err = await call().catch((e: unknown) => e);
        expect(isNsmUnreachable(err), target).toBe(true);
        expect((err as Error).message).toMatch(new RegExp(`^NSM \\w+.* at ${target.replace(/[.\/]/g, "\\$&")}: cannot reach the server \\(E[A-Z]+\\)\\. Is the lab running\\? Start it with \`npx tfmesh lab up\``));
      }
      down.dispose();
    }
  });
});

describe("Kubernetes client from the lab's kubeconfig", () => {
  it("reads a pod, a missing one as undefined, and a refusal with the API server's Status message", async () => {
    const kubeconfig = readLabEndpoints(cloud.endpointsFile)!.kubernetes!.kubeconfig;
    const kube = new KubernetesClient(loadKubeconfig(kubeconfig).options);
    const made = putPod(cloud.state, "client-pod", { namespace: "apps" });
    expect((await kube.get<Pod>(resourcePath("v1", "pods", "apps", "client-pod")))?.metadata.uid).toBe(made.metadata.uid);
    expect((await kube.list<Pod>(resourcePath("v1", "pods", "apps"))).items.map((p) => p.metadata.name)).toEqual(["client-pod"]);
    expect(await kube.get(resourcePath("v1", "pods", "apps", "nobody"))).toBeUndefined();
    const anonymous = new KubernetesClient({ server: `${cloud.url}/kube`, retries: 0 });
    const err = await anonymous.get(resourcePath("v1", "pods", "apps", "client-pod")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(401);
    expect((err as HttpError).message).toContain("Unauthorized");
  });
});
