// The kernel forwarder as a process of its own (root): its address leases survive a kill -9 (kept in
// its state dir), and a forwarder whose leases were lost keeps the addresses its connections have.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAddresses, listLinks, netns } from "../../lib/kernel/index.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import type { NsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import { ForwarderRegistry } from "../../nsm/forwarder.ts";
import { bridgeName } from "../../nsm/forwarders/kernel/names.ts";
import { Manager } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { eventually } from "../../harness/eventually.ts";
import { startForwarderProcess } from "./forwarder-process.ts";
import { startTestSpire } from "./fixtures/spire.ts";
import type { TestSpire } from "./fixtures/spire.ts";
import type { ForwarderProcess } from "./forwarder-process.ts";

const prefix = `k${randomBytes(2).toString("hex")}`;
const node = "k8s-1";
const NAME = `kernel@${node}`;
const nodeNs = `${prefix}-${node}`;
const podNs = (pod: string) => `${prefix}-pod-${pod}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-kfwd-"));
const stateDir = path.join(dir, "state");
const fwdSocket = path.join(dir, "kernel.sock");

let registry: Registry;
let spire: TestSpire | undefined;
let nsmgr: NsmGrpcServer;
let fwd: ForwarderProcess | undefined;
let client: NsmGrpcClient;
let env: Record<string, string>;

function bound(id: string, pod: string): NetworkServiceRequest {
  return {
    connection: {
      id,
      network_service: "local",
      payload: "ETHERNET",
      network_service_endpoint_name: NAME,
      labels: { nodeName: node, podName: pod },
      context: { extra_context: { "kernel.cidr": "10.60.0.0/24" } },
      path: { index: 0, path_segments: [{ name: `nsmgr@${node}`, id }] },
    },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: podNs(pod) } }],
  };
}

const addressOf = (c: Connection) => c.context?.ip_context?.src_ip_addrs?.[0];
const addrsIn = async (ns: string) => (await listAddresses(ns)).flatMap((a) => a.addr_info.filter((i) => i.family === "inet" && i.local !== "127.0.0.1").map((i) => `${i.local}/${i.prefixlen}`));

/** Starts the forwarder (its old registration removed first) and waits until it registered. */
async function startForwarder(): Promise<ForwarderProcess> {
  registry.unregisterEndpoint(NAME);
  const p = startForwarderProcess(env);
  await eventually(() => registry.getEndpoint(NAME), { what: `${NAME} to register (output: ${p.output()})`, timeoutMs: 20_000 });
  return p;
}

beforeAll(async () => {
  for (const ns of [nodeNs, podNs("a"), podNs("b"), podNs("c")]) await netns.add(ns);
  const stores = nsmStores(new DatabaseSync(":memory:"));
  registry = new Registry(stores);
  spire = await startTestSpire();
  nsmgr = createNsmGrpcServer({ registry, manager: new Manager({ registry, connections: stores.connections, forwarders: new ForwarderRegistry([]) }), security: { source: spire.source } });
  await new Promise<void>((resolve) => nsmgr.listen(path.join(dir, "nsm.io.sock"), resolve));
  env = {
    NSM_NAME: NAME,
    NSM_CONNECT_TO: `unix://${path.join(dir, "nsm.io.sock")}`,
    NSM_LISTEN_ON: `unix://${fwdSocket}`,
    NSM_LABELS: "type:kernel",
    NODE_NAME: node,
    SPIFFE_ENDPOINT_SOCKET: spire.endpoint,
    TFMESH_STATE_DIR: stateDir,
    TFMESH_NODE_NETNS: nodeNs,
    TFMESH_POD_NETNS_PREFIX: `${prefix}-pod-`,
  };
  fwd = await startForwarder();
  client = new NsmGrpcClient(`unix://${fwdSocket}`, { spiffe: spire!.source });
}, 15 * 60_000);

afterAll(async () => {
  client?.dispose();
  await fwd?.kill("SIGKILL");
  for (const ns of netns.list(`${prefix}-`)) await netns.del(ns);
  nsmgr?.closeAllConnections();
  await new Promise<void>((resolve) => (nsmgr ? nsmgr.close(() => resolve()) : resolve()));
  await spire?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("the kernel forwarder process", () => {
  const conns: Record<string, Connection> = {};

  it("leases addresses, and keeps the leases across kill -9: a refresh keeps its address, a new connection takes a free one", async () => {
    conns.a = await client.request(bound("ka", "a"));
    conns.b = await client.request(bound("kb", "b"));
    expect([addressOf(conns.a), addressOf(conns.b)]).toEqual(["10.60.0.2/24", "10.60.0.3/24"]);
    await fwd!.kill("SIGKILL");
    fwd = await startForwarder();
    expect(addressOf(await client.request({ connection: conns.a }))).toBe("10.60.0.2/24");
    conns.c = await client.request(bound("kc", "c"));
    expect(addressOf(conns.c)).toBe("10.60.0.4/24");
    expect(await addrsIn(podNs("b"))).toEqual(["10.60.0.3/24"]);
  });

  it("keeps the addresses its connections have when its leases are gone", async () => {
    await fwd!.kill("SIGKILL");
    fs.rmSync(path.join(stateDir, "leases.json"));
    fwd = await startForwarder();
    // b first: it must keep .3, not take the lowest free address.
    expect(addressOf(await client.request({ connection: conns.b! }))).toBe("10.60.0.3/24");
    expect(addressOf(await client.request({ connection: conns.c! }))).toBe("10.60.0.4/24");
    expect(addressOf(await client.request({ connection: conns.a! }))).toBe("10.60.0.2/24");
    expect(await addrsIn(podNs("c"))).toEqual(["10.60.0.4/24"]);
  });

  it("closes everything: no interface, no bridge, no lease", async () => {
    for (const id of ["ka", "kb", "kc"]) await client.close({ id });
    for (const pod of ["a", "b", "c"]) expect((await listLinks(podNs(pod))).filter((l) => l.ifname !== "lo")).toEqual([]);
    expect((await listLinks(nodeNs)).map((l) => l.ifname)).not.toContain(bridgeName("local"));
    expect(JSON.parse(fs.readFileSync(path.join(stateDir, "leases.json"), "utf8"))).toEqual([]);
  });
});
