// The tungsten forwarder as a process of its own (`tfmesh forwarder`), through NSM's generated gRPC
// clients, in real network namespaces (root): registration with an NSMgr (Find with watch, refresh
// before expiry, gone on SIGTERM), Request / refresh / Close / MonitorConnections, rollback of a
// failing step, inode:// resolution, and a kill -9 and restart that keeps its connections.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, close, createJsonServer, listen } from "../../lib/http/server.ts";
import type { ApiRequest } from "../../lib/http/server.ts";
import { ip, listLinks, netns } from "../../lib/kernel/index.ts";
import { ConfigStore } from "../../lab/tf/configStore.ts";
import { createTfServer } from "../../lab/tf/server.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import type { NsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import { ForwarderRegistry } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";
import { releaseNetnsName, resolveNetnsUrl } from "../../nsm/netnsUrl.ts";
import { TfClient } from "../../wire/tf.ts";
import type { Connection, ConnectionEvent, NetworkServiceEndpoint, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { eventually } from "../../harness/eventually.ts";
import { startForwarderProcess } from "./forwarder-process.ts";
import { startTestSpire } from "./fixtures/spire.ts";
import type { TestSpire } from "./fixtures/spire.ts";
import type { ForwarderProcess } from "./forwarder-process.ts";

const prefix = `f${randomBytes(2).toString("hex")}`;
const node = "k8s-1";
const NAME = `tungsten@${node}`;
const nodeNs = `${prefix}-${node}`;
const podNs = (pod: string) => `${prefix}-pod-${pod}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-fwd-"));
const nsmSocket = path.join(dir, "nsm.io.sock");
const fwdSocket = path.join(dir, "forwarder.sock");

let tfServer: ReturnType<typeof createTfServer>;
let agentServer: ReturnType<typeof createJsonServer>;
const agentPorts = new Map<string, Record<string, unknown>>();
/** display-names whose POST /port the fake agent refuses. */
const refusePorts = new Set<string>();
let registry: Registry;
let spire: TestSpire | undefined;
let nsmgr: NsmGrpcServer;
let tf: TfClient;
let env: Record<string, string>;
let fwd: ForwarderProcess | undefined;
let client: NsmGrpcClient;
const sleepers: ChildProcess[] = [];

function bound(id: string, pod: string): NetworkServiceRequest {
  return {
    connection: {
      id,
      network_service: "red",
      payload: "ETHERNET",
      network_service_endpoint_name: NAME,
      labels: { nodeName: node, podName: pod },
      context: { extra_context: { "tungsten.virtual_network": "default-domain:admin:red" } },
      path: { index: 0, path_segments: [{ name: `nsmgr@${node}`, id }] },
    },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: podNs(pod) } }],
  };
}

/** The manager's refresh: the established connection, as it was answered, requested again. */
const refresh = (c: Connection): NetworkServiceRequest => ({ connection: c });

const linksOf = async (ns: string) => (await listLinks(ns)).filter((l) => l.ifname !== "lo");
const tfObjects = async () => ({
  vm: (await tf.list("virtual-machine")).length,
  vmi: (await tf.list("virtual-machine-interface")).length,
  iip: (await tf.list("instance-ip")).length,
});

async function startForwarder(): Promise<ForwarderProcess> {
  const p = startForwarderProcess(env);
  await eventually(() => registry.getEndpoint(NAME)?.url === `unix://${fwdSocket}`, { what: `${NAME} to register (output: ${p.output()})`, timeoutMs: 20_000 });
  return p;
}

/** The first event of a monitor scoped to one connection, or to all. */
async function initialState(c: NsmGrpcClient, id?: string): Promise<ConnectionEvent> {
  const abort = new AbortController();
  try {
    for await (const e of c.monitorConnections(id ? { path_segments: [{ name: NAME, id }] } : {}, abort.signal)) return e;
    throw new Error("monitor ended");
  } finally {
    abort.abort();
  }
}

beforeAll(async () => {
  for (const ns of [nodeNs, podNs("a"), podNs("b")]) await netns.add(ns);
  const store = new ConfigStore(new DatabaseSync(":memory:"), { nodes: [{ name: node, ip: "172.31.0.12" }] });
  tfServer = createTfServer({ store, auth: null });
  const tfPort = await listen(tfServer, 0);
  tf = new TfClient({ baseUrl: `http://127.0.0.1:${tfPort}`, retries: 0 });
  const ipam = await tf.create("network-ipam", { fq_name: ["default-domain", "admin", "ipam"], parent_type: "project" });
  await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", "red"],
    parent_type: "project",
    network_ipam_refs: [{ to: ipam.fq_name, attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.1.1.0", ip_prefix_len: 24 } }] } }],
  });
  agentServer = createJsonServer({
    name: "fake-agent",
    routes: [
      {
        method: "POST",
        pattern: "/port",
        handler: (req: ApiRequest) => {
          const p = req.body as Record<string, unknown>;
          if (refusePorts.has(p["display-name"] as string)) throw new ApiError(400, "refused by the test");
          agentPorts.set(p.id as string, p);
          return { body: {} };
        },
      },
      {
        method: "GET",
        pattern: "/port/:id",
        handler: (req) => {
          const p = agentPorts.get(req.params.id!);
          if (!p) throw new ApiError(404, "Not Found");
          return { body: p };
        },
      },
      { method: "DELETE", pattern: "/port/:id", handler: (req) => (agentPorts.delete(req.params.id!), { body: {} }) },
    ],
  });
  const agentPort = await listen(agentServer, 0);

  const stores = nsmStores(new DatabaseSync(":memory:"));
  registry = new Registry(stores);
  spire = await startTestSpire();
  nsmgr = createNsmGrpcServer({ registry, manager: new Manager({ registry, connections: stores.connections, forwarders: new ForwarderRegistry([]) }), security: { source: spire.source } });
  await new Promise<void>((resolve) => nsmgr.listen(nsmSocket, resolve));

  env = {
    NSM_NAME: NAME,
    NSM_CONNECT_TO: `unix://${nsmSocket}`,
    NSM_LISTEN_ON: `unix://${fwdSocket}`,
    NSM_LABELS: "type:tungsten",
    NSM_MAX_TOKEN_LIFETIME: "3s",
    NODE_NAME: node,
    SPIFFE_ENDPOINT_SOCKET: spire.endpoint,
    TF_API_URL: `http://127.0.0.1:${tfPort}`,
    VROUTER_AGENT_URL: `http://127.0.0.1:${agentPort}`,
    TFMESH_STATE_DIR: path.join(dir, "state"),
    TFMESH_NODE_NETNS: nodeNs,
    TFMESH_POD_NETNS_PREFIX: `${prefix}-pod-`,
  };
  fwd = await startForwarder();
  client = new NsmGrpcClient(`unix://${fwdSocket}`, { spiffe: spire!.source });
}, 15 * 60_000);

afterAll(async () => {
  client?.dispose();
  await fwd?.kill("SIGKILL");
  for (const s of sleepers) s.kill("SIGKILL");
  for (const ns of [...netns.list(`${prefix}-`), ...netns.list("nsmfwd-")]) await netns.del(ns);
  nsmgr?.closeAllConnections();
  await new Promise<void>((resolve) => (nsmgr ? nsmgr.close(() => resolve()) : resolve()));
  await spire?.stop();
  if (tfServer) await close(tfServer);
  if (agentServer) await close(agentServer);
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("the forwarder process's registration", () => {
  it("is in the NSMgr's Find with watch: labelled, with its URL, and refreshed before it expires", async () => {
    const nsm = new NsmGrpcClient(`unix://${nsmSocket}`, { spiffe: spire!.source });
    const abort = new AbortController();
    const seen: Array<{ endpoint: NetworkServiceEndpoint; deleted: boolean }> = [];
    try {
      for await (const e of nsm.findEndpoints({ network_service_names: ["forwarder"] }, { watch: true, signal: abort.signal })) {
        seen.push(e);
        if (seen.length === 2) break;
      }
    } finally {
      abort.abort();
      nsm.dispose();
    }
    const [first, second] = seen;
    expect(first).toMatchObject({ deleted: false, endpoint: { name: NAME, url: `unix://${fwdSocket}`, network_service_labels: { forwarder: { labels: { type: "tungsten", node } } } } });
    // The watch's second event is the refresh (a lapse would be a deletion): a later expiration, registered before the first one passed.
    expect(second).toMatchObject({ deleted: false, endpoint: { name: NAME } });
    expect(Date.parse(second!.endpoint.expiration_time!)).toBeGreaterThan(Date.parse(first!.endpoint.expiration_time!));
    expect(registry.expiredAt(NAME)).toBeUndefined();
  });

  it("answers grpc.health.v1 for itself and the services it serves", async () => {
    expect(await client.check()).toBe("SERVING");
    expect(await client.check("networkservice.NetworkService")).toBe("SERVING");
    expect(await client.check("registry.NetworkServiceRegistry").catch((e: Error) => e.message)).toMatch(/unknown service/);
  });
});

describe("the forwarder process's NetworkService and MonitorConnection", () => {
  let a: Connection;

  it("builds the interface in the pod on Request, and a repeated Request refreshes it: same interface, no second one", async () => {
    a = await client.request(bound("fa", "a"));
    expect(a).toMatchObject({ state: "UP", mechanism: { parameters: { name: "nsm-1" } } });
    expect(a.path?.path_segments.map((s) => s.name)).toEqual([`nsmgr@${node}`, NAME]);
    const before = (await linksOf(podNs("a"))).find((l) => l.ifname === "nsm-1")!;
    expect(before.ifalias).toBe("nsm:fa");
    expect(before.address).toBe(a.context?.ethernet_context?.src_mac);
    const again = await client.request(refresh(a));
    expect(again.mechanism?.parameters?.name).toBe("nsm-1");
    expect(again.context?.ip_context?.src_ip_addrs).toEqual(a.context?.ip_context?.src_ip_addrs);
    const after = await linksOf(podNs("a"));
    expect(after.map((l) => l.ifname)).toEqual(["nsm-1"]);
    expect(after[0]!.ifindex).toBe(before.ifindex);
    expect(await tfObjects()).toEqual({ vm: 1, vmi: 1, iip: 1 });
  });

  it("takes the next free name when something it does not hold has the first one in the pod, and leaves that alone", async () => {
    await ip.batch([["link", "add", "nsm-1", "type", "veth", "peer", "name", "other-1"]], podNs("b"));
    const foreign = (await linksOf(podNs("b"))).find((l) => l.ifname === "nsm-1")!;
    const c = await client.request(bound("fo", "b"));
    expect(c.mechanism?.parameters?.name).toBe("nsm-2");
    const links = await linksOf(podNs("b"));
    expect(links.find((l) => l.ifname === "nsm-1")).toMatchObject({ ifindex: foreign.ifindex });
    expect(links.find((l) => l.ifname === "nsm-1")?.ifalias).toBeUndefined();
    expect(links.find((l) => l.ifname === "nsm-2")?.ifalias).toBe("nsm:fo");
    await client.close(c);
    expect((await linksOf(podNs("b"))).map((l) => l.ifname).sort()).toEqual(["nsm-1", "other-1"]);
    await ip.batch([["link", "del", "nsm-1"]], podNs("b"));
  });

  it("MonitorConnections: INITIAL_STATE_TRANSFER with the connections, then UPDATE and DELETE", async () => {
    const abort = new AbortController();
    const events: ConnectionEvent[] = [];
    const reading = (async () => {
      for await (const e of client.monitorConnections({}, abort.signal)) {
        events.push(e);
        if (events.length === 3) break;
      }
    })();
    await eventually(() => events.length >= 1, { what: "the initial state" });
    const b = await client.request(bound("fb", "b"));
    await client.close(b);
    await reading;
    abort.abort();
    expect(events.map((e) => [e.type, Object.keys(e.connections)])).toEqual([
      ["INITIAL_STATE_TRANSFER", ["fa"]],
      ["UPDATE", ["fb"]],
      ["DELETE", ["fb"]],
    ]);
    expect(events[0]!.connections.fa?.state).toBe("UP");
    expect(await linksOf(podNs("b"))).toEqual([]);
  });

  it("reports a broken connection DOWN with the reason in its path segment's metrics", async () => {
    const tap = (await linksOf(nodeNs)).find((l) => l.ifalias === "nsm:fa")!;
    const pod = (await linksOf(podNs("a")))[0]!;
    await netns.exec(podNs("a"), ["ip", "link", "del", "dev", pod.ifname]);
    const seen = (await initialState(client, "fa")).connections.fa!;
    expect(seen.state).toBe("DOWN");
    expect(seen.path?.path_segments.find((s) => s.name === NAME)?.metrics?.["tfmesh.problem"]).toMatch(/nsm-1 .*missing/);
    expect(tap).toBeDefined();
    a = await client.request(refresh(a));
    expect((await initialState(client, "fa")).connections.fa?.state).toBe("UP");
  });

  it("rolls a failing step back: nothing left in TF or the kernel", async () => {
    refusePorts.add("nsm-fail");
    try {
      const err = await client.request(bound("fail", "b")).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain("refused by the test");
    } finally {
      refusePorts.delete("nsm-fail");
    }
    expect(await tf.lookupId("virtual-machine", ["nsm-fail"])).toBeUndefined();
    expect(await tf.lookupId("virtual-machine-interface", ["default-domain", "admin", "nsm-fail"])).toBeUndefined();
    expect(await tf.lookupId("instance-ip", ["nsm-fail"])).toBeUndefined();
    expect(await linksOf(podNs("b"))).toEqual([]);
    expect((await linksOf(nodeNs)).filter((l) => l.ifalias === "nsm:fail")).toEqual([]);
    expect(Object.keys((await initialState(client)).connections)).toEqual(["fa"]);
  });

  it("finds the client's netns from inode://<dev>/<ino> of a process in it", async () => {
    const sleeper = spawn("ip", ["netns", "exec", podNs("b"), "sleep", "60"], { stdio: "ignore" });
    sleepers.push(sleeper);
    const st = await eventually(
      () => {
        const s = fs.statSync(`/proc/${sleeper.pid}/ns/net`);
        return s.ino !== fs.statSync("/proc/self/ns/net").ino && s;
      },
      { what: "the sleeper to enter its netns" },
    );
    const req = bound("fi", "b");
    req.mechanism_preferences = [{ cls: "LOCAL", type: "KERNEL", parameters: { inodeURL: `inode://${st.dev}/${st.ino}` } }];
    const c = await client.request(req);
    expect(c.mechanism?.parameters?.netnsName).toBe(podNs("b"));
    expect((await linksOf(podNs("b"))).map((l) => l.ifalias)).toEqual(["nsm:fi"]);
    await client.close(c);
    expect(await linksOf(podNs("b"))).toEqual([]);
  });

  it("finds a pod's netns from its uid alone (label podUid, no inodeURL), through the pod's cgroup as the kubelet names it", async () => {
    const uid = randomUUID();
    // A writable cgroup v1 hierarchy (or the v2 root) standing in for the kubelet's kubepods tree.
    const root = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((d) => fs.existsSync(path.join(d, "cgroup.procs")))!;
    const group = path.join(root, `${prefix}-kubepods`, `pod${uid}`);
    fs.mkdirSync(group, { recursive: true });
    const sleeper = spawn("ip", ["netns", "exec", podNs("b"), "sleep", "60"], { stdio: "ignore" });
    sleepers.push(sleeper);
    try {
      await eventually(() => fs.statSync(`/proc/${sleeper.pid}/ns/net`).ino !== fs.statSync("/proc/self/ns/net").ino, { what: "the sleeper to enter its netns" });
      fs.writeFileSync(path.join(group, "cgroup.procs"), `${sleeper.pid}\n`);
      const req = bound("fu", "b");
      req.connection!.labels = { ...req.connection!.labels, podUid: uid };
      req.mechanism_preferences = [{ cls: "LOCAL", type: "KERNEL", parameters: {} }];
      const c = await client.request(req);
      expect(c.mechanism?.parameters?.netnsName).toBe(podNs("b"));
      expect((await linksOf(podNs("b"))).map((l) => l.ifalias)).toEqual(["nsm:fu"]);
      await client.close(c);
      expect(await linksOf(podNs("b"))).toEqual([]);
      // A uid no process on the node carries is refused, naming the pod, and builds nothing.
      const other = bound("fv", "b");
      other.connection!.labels = { ...other.connection!.labels, podUid: randomUUID() };
      other.mechanism_preferences = [{ cls: "LOCAL", type: "KERNEL", parameters: {} }];
      await expect(client.request(other)).rejects.toThrow(/no process of that pod on this node/);
      expect(await linksOf(podNs("b"))).toEqual([]);
    } finally {
      sleeper.kill("SIGKILL");
      await eventually(() => {
        try {
          fs.rmdirSync(group);
          fs.rmdirSync(path.dirname(group));
          return true;
        } catch {
          return false;
        }
      }, { what: "the test cgroup to empty" });
    }
  });

  it("names an unnamed netns it finds only through /proc, and releases the name again", async () => {
    const sleeper = spawn("unshare", ["--net", "sleep", "60"], { stdio: "ignore" });
    sleepers.push(sleeper);
    const st = await eventually(
      () => {
        const s = fs.statSync(`/proc/${sleeper.pid}/ns/net`);
        return s.ino !== fs.statSync("/proc/self/ns/net").ino && s;
      },
      { what: "the sleeper to enter its netns" },
    );
    const name = await resolveNetnsUrl(`inode://${st.dev}/${st.ino}`);
    expect(name).toBe(`nsmfwd-${st.ino}`);
    expect(fs.statSync(`/var/run/netns/${name}`).ino).toBe(st.ino);
    expect(await resolveNetnsUrl(`file:///proc/${sleeper.pid}/ns/net`)).toBe(name);
    await releaseNetnsName(name);
    expect(netns.list("nsmfwd-")).not.toContain(name);
  });

  it("keeps its connections across kill -9: the interface stays, a repeated Request refreshes without rebuilding, Close removes everything", async () => {
    const before = (await linksOf(podNs("a"))).find((l) => l.ifalias === "nsm:fa")!;
    expect(await fwd!.kill("SIGKILL")).toBe(137);
    registry.unregisterEndpoint(NAME);
    fwd = await startForwarder();
    expect((await linksOf(podNs("a"))).find((l) => l.ifalias === "nsm:fa")?.ifindex).toBe(before.ifindex);
    expect((await initialState(client, "fa")).connections.fa?.state).toBe("UP");
    const again = await client.request(refresh(a));
    expect(again.mechanism?.parameters?.name).toBe("nsm-1");
    expect((await linksOf(podNs("a"))).map((l) => l.ifindex)).toEqual([before.ifindex]);
    expect(await tfObjects()).toEqual({ vm: 1, vmi: 1, iip: 1 });
    await client.close({ id: "fa" });
    expect(await linksOf(podNs("a"))).toEqual([]);
    expect((await linksOf(nodeNs)).filter((l) => l.ifalias === "nsm:fa")).toEqual([]);
    expect(await tfObjects()).toEqual({ vm: 0, vmi: 0, iip: 0 });
    expect(agentPorts.size).toBe(0);
  });

  it("unregisters on SIGTERM and exits 0", async () => {
    const nsm = new NsmGrpcClient(`unix://${nsmSocket}`, { spiffe: spire!.source });
    const abort = new AbortController();
    let seen!: () => void;
    // Killed only once the watch has shown the registration, so its removal cannot come before the watch listens.
    const watching = new Promise<void>((resolve) => (seen = resolve));
    const deleted = (async () => {
      for await (const e of nsm.findEndpoints({ name: NAME }, { watch: true, signal: abort.signal })) {
        if (e.deleted) return e.endpoint.name;
        seen();
      }
      return undefined;
    })();
    try {
      await eventually(() => registry.getEndpoint(NAME), { what: "the registration" });
      await watching;
      expect(await fwd!.kill("SIGTERM")).toBe(0);
      expect(await deleted).toBe(NAME);
      expect(registry.getEndpoint(NAME)).toBeUndefined();
      expect(registry.expiredAt(NAME)).toBeUndefined();
    } finally {
      abort.abort();
      nsm.dispose();
    }
  });
});
