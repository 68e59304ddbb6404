// NSM's gRPC API of a running lab (endpoints.json "nsmGrpc"): Request through the tungsten
// forwarder builds a pod interface that reaches a pod on the other node, a repeated Request heals
// it, Close removes it and its TF objects, the kernel forwarder works the same way, the monitor
// streams what the gRPC front did and answers a connection as its forwarder checks it, and
// refusals arrive as gRPC codes.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import * as ip from "../../lib/kernel/ip.ts";
import { readEndpoints } from "../../lab/endpoints.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { labPod } from "../../harness/kube.ts";
import type { LabPod } from "../../harness/kube.ts";
import { TfClient } from "../../wire/tf.ts";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { labSockets } from "../../lab/endpoints.ts";
import { FORWARDER_GID, LAB_IDENTITIES, NSMGR_GID } from "../../lab/spire/identities.ts";
import { tokenClaims } from "../../wire/nsm/pathToken.ts";
import { certFactory } from "../unit/fixtures/spiffeCerts.ts";

let lab: TestLab;
let grpc: NsmGrpcClient;
let tf: TfClient;
const pod: Record<string, LabPod> = {};

const attach = (id: string, p: LabPod, service: string): NetworkServiceRequest => ({
  connection: { id, network_service: service, labels: { nodeName: p.node, podName: p.name } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: p.netns, inodeURL: `file:///var/run/netns/${p.netns}` } }],
});
const addressOf = (c: Connection) => c.context!.ip_context!.src_ip_addrs![0]!.split("/")[0]!;
const links = async (p: LabPod) => (await ip.json<{ ifname: string }>(["link", "show"], p.netns)).map((l) => l.ifname).filter((n) => n !== "lo");

async function next<T>(events: AsyncIterator<T>, what: string): Promise<T> {
  const r = await eventually(() => events.next(), { what, timeoutMs: 30_000, attempts: 1 });
  if (r.done) throw new Error(`the stream ended before ${what}`);
  return r.value;
}

beforeAll(async () => {
  lab = await startLab({ kubernetes: true });
  const headers = await lab.authHeaders();
  tf = new TfClient({ baseUrl: lab.endpoints.tf, token: () => headers["x-auth-token"] });
  grpc = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
  const ipam = ["default-domain", "admin", "ipam-grpc"];
  await tf.create("network-ipam", { fq_name: ipam, parent_type: "project" });
  const subnet = { subnet: { ip_prefix: "10.7.7.0", ip_prefix_len: 24 } };
  await tf.create("virtual-network", { fq_name: ["default-domain", "admin", "grpc"], parent_type: "project", network_ipam_refs: [{ to: ipam, attr: { ipam_subnets: [subnet] } }] });
  await grpc.registerService({ name: "grpc-red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:grpc" } });
  await grpc.registerService({ name: "grpc-local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.70.0.0/24" } });
  for (const [name, node] of [["ga", "k8s-1"], ["gb", "k8s-2"]] as const) pod[name] = labPod(await lab.createPod(name, { node }));
}, LAB_TIMEOUT);

afterAll(async () => {
  grpc?.dispose();
  await lab?.stop();
}, LAB_TIMEOUT);

describe("NSM's gRPC API in the lab", () => {
  it("is published in endpoints.json, answers health, and lists the forwarders of every k8s node", async () => {
    expect(readEndpoints(lab.stateDir)?.nsmGrpc).toBe(`tcp://127.0.0.1:${lab.config.ports.nsmGrpc}`);
    expect(await grpc.check()).toBe("SERVING");
    const found = [];
    for await (const f of grpc.findEndpoints({ network_service_names: ["forwarder"] })) found.push(f.endpoint.name);
    expect(found.sort()).toEqual(["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]);
  });

  it("Request builds tungsten interfaces that reach across nodes, a repeat heals, Close removes them; the monitor sees it", async () => {
    const stop = new AbortController();
    const events = grpc.monitorConnections({ network_services: ["grpc-red"] }, stop.signal)[Symbol.asyncIterator]();
    try {
      expect(await next(events, "the initial state")).toEqual({ type: "INITIAL_STATE_TRANSFER", connections: {} });
      const a = await grpc.request(attach("grpc-a", pod.ga!, "grpc-red"));
      expect(a).toMatchObject({ state: "UP", network_service_endpoint_name: "tungsten@k8s-1", mechanism: { parameters: { name: "nsm-1" } } });
      expect(addressOf(a)).toMatch(/^10\.7\.7\./);
      expect(await next(events, "the UPDATE of grpc-a")).toEqual({ type: "UPDATE", connections: { "grpc-a": a } });
      const b = await grpc.request(attach("grpc-b", pod.gb!, "grpc-red"));
      await next(events, "the UPDATE of grpc-b");
      expect((await lab.ping(pod.ga!.netns, addressOf(b), { count: 1, wait: 2 })).ok).toBe(true);
      expect(await grpc.getConnection("grpc-a")).toMatchObject({ id: "grpc-a", state: "UP", context: a.context });

      const healed = await grpc.request(attach("grpc-a", pod.ga!, "grpc-red"));
      expect(addressOf(healed)).toBe(addressOf(a));
      expect(await links(pod.ga!)).toEqual(["eth0", "nsm-1"]);
      await next(events, "the UPDATE of the heal");

      await grpc.close({ id: "grpc-a" });
      expect(await next(events, "the DELETE of grpc-a")).toMatchObject({ type: "DELETE", connections: { "grpc-a": { id: "grpc-a" } } });
      expect(await links(pod.ga!)).toEqual(["eth0"]);
      expect(await tf.lookupId("virtual-machine-interface", ["default-domain", "admin", "nsm-grpc-a"])).toBeUndefined();
      expect((await lab.ping(pod.gb!.netns, addressOf(a), { count: 1, wait: 1 })).ok).toBe(false);
      await grpc.close({ id: "grpc-b" });
    } finally {
      stop.abort();
    }
  });

  it("Request and Close of a kernel-forwarder connection", async () => {
    const c = await grpc.request(attach("grpc-local", pod.ga!, "grpc-local"));
    expect(c).toMatchObject({ state: "UP", network_service_endpoint_name: "kernel@k8s-1" });
    expect(addressOf(c)).toMatch(/^10\.70\.0\./);
    expect(await links(pod.ga!)).toContain(c.mechanism!.parameters!.name);
    await grpc.close({ id: "grpc-local" });
    expect(await links(pod.ga!)).toEqual(["eth0"]);
    expect(await grpc.listConnections()).toEqual([]);
  });

  it("refuses with gRPC codes: an unknown service, a netns outside the lab's pods, a service still in use", async () => {
    const codeOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => ConnectError.from(e).code);
    expect(await codeOf(grpc.request(attach("grpc-x", pod.ga!, "nope")))).toBe(Code.NotFound);
    expect(await codeOf(grpc.request(attach("grpc-x", { ...pod.ga!, netns: "elsewhere" }, "grpc-red")))).toBe(Code.InvalidArgument);
    await grpc.request(attach("grpc-use", pod.gb!, "grpc-red"));
    expect(await codeOf(grpc.unregisterService("grpc-red"))).toBe(Code.FailedPrecondition);
    await grpc.close({ id: "grpc-use" });
    await grpc.unregisterService("grpc-red");
    expect(await grpc.getNetworkService("grpc-red")).toBeUndefined();
  });
});

const run = promisify(execFile);
/** One NSM call from a process of another uid/gid, which gets that identity's SVID (or none). */
async function callAs(ids: { uid: number; gid: number }, ...args: string[]): Promise<{ ok: boolean; spiffeId?: string; code?: number; message?: string }> {
  const fixture = fileURLToPath(new URL("./fixtures/nsmCallAs.ts", import.meta.url));
  const { stdout } = await run(process.execPath, [fixture, lab.endpoints.nsmGrpc, lab.endpoints.spiffe, ...args], { ...ids, timeout: 60_000 });
  return JSON.parse(stdout.trim());
}

describe("NSM's security model in the lab: SPIFFE SVIDs, mTLS on every hop, path tokens", () => {
  // Refused at the TLS handshake, before any gRPC status: the connection ends (or a cleartext
  // client's stream is cancelled) and nothing answers.
  const refusal = (p: Promise<unknown>) => p.then(() => "answered", (e: unknown) => (e as Error).message);

  it("refuses callers without an SVID of the lab's trust domain, on TCP and on the NSMgr's unix socket", async () => {
    for (const target of [lab.endpoints.nsmGrpc, `unix://${labSockets(lab.stateDir).nsm}`]) {
      const cleartext = new NsmGrpcClient(target, { timeoutMs: 5000, retries: 0 });
      try {
        expect(await refusal(cleartext.listConnections())).toMatch(/cannot reach|CANCELED|UNAVAILABLE/);
      } finally {
        cleartext.dispose();
      }
    }
    const certs = certFactory();
    try {
      const foreignCa = await certs.ca("elsewhere");
      const foreign = await certs.svid(foreignCa, LAB_IDENTITIES.operator);
      const impostor = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: { current: () => foreign, onUpdate: () => () => {} }, timeoutMs: 5000, retries: 0 });
      try {
        expect(await refusal(impostor.listConnections())).toMatch(/cannot reach|CANCELED|UNAVAILABLE/);
      } finally {
        impostor.dispose();
      }
    } finally {
      certs.remove();
    }
  });

  it("gives no SVID to a process that is none of the lab's roles", async () => {
    expect(await callAs({ uid: 0, gid: 4242 }, "svid")).toMatchObject({ ok: false });
    expect(await callAs({ uid: 0, gid: NSMGR_GID }, "svid")).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.nsmgr });
    expect(await callAs({ uid: 0, gid: 0 }, "svid")).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.operator });
  });

  it("answers a Request with path tokens chained from the client through the NSMgr to the forwarder", async () => {
    const c = await grpc.request(attach("grpc-sec", pod.ga!, "grpc-local"));
    try {
      const segments = c.path!.path_segments;
      expect(segments.map((s) => s.name)).toEqual(["tfmesh-client", expect.stringMatching(/^nsmgr/), "kernel@k8s-1"]);
      const claims = segments.map((s) => tokenClaims(s.token!));
      expect(claims.map((t) => t.sub)).toEqual([LAB_IDENTITIES.operator, LAB_IDENTITIES.nsmgr, LAB_IDENTITIES.forwarder]);
      expect(claims[0]!.aud).toEqual([LAB_IDENTITIES.nsmgr]);
      expect(claims[1]!.aud).toEqual([LAB_IDENTITIES.forwarder]);
      expect(claims[2]!.aud).toEqual([LAB_IDENTITIES.nsmgr]);
      for (const t of claims) {
        expect(t.exp * 1000).toBeGreaterThan(Date.now());
        expect(t.exp * 1000).toBeLessThanOrEqual(Date.now() + 10 * 60_000 + 1000);
      }
    } finally {
      await grpc.close({ id: "grpc-sec" });
    }
  });

  it("lets no other identity close a connection or take over a registration", async () => {
    await grpc.request(attach("grpc-owned", pod.ga!, "grpc-local"));
    try {
      const byForwarder = await callAs({ uid: 0, gid: FORWARDER_GID }, "close", "grpc-owned");
      expect(byForwarder).toMatchObject({ ok: false, code: Code.PermissionDenied });
      expect(byForwarder.message).toContain("service_connection");
      expect(await grpc.getConnection("grpc-owned")).toMatchObject({ state: "UP" });
    } finally {
      await grpc.close({ id: "grpc-owned" });
    }
    const err = await grpc.unregisterEndpoint("tungsten@k8s-1").then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(err?.rawMessage).toContain("registry_client_allowed");
    const found = [];
    for await (const f of grpc.findEndpoints({ network_service_names: ["forwarder"] })) found.push(f.endpoint.name);
    expect(found).toContain("tungsten@k8s-1");
  });
});
