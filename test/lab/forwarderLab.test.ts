// The lab's forwarders as processes (root): a tungsten and a kernel `tfmesh forwarder` per k8s node,
// each in its node's netns and registered at its unix socket; the node's vRouter agent answers at
// 127.0.0.1:9091 inside the node only; a forwarder killed with -9 is started again and keeps its
// connections; they exit with a daemon killed outright; a stopped lab leaves no forwarder or relay
// process behind.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../lib/http/client.ts";
import * as ip from "../../lib/kernel/ip.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { labPod } from "../../harness/kube.ts";
import type { LabPod } from "../../harness/kube.ts";
import { TfClient } from "../../wire/tf.ts";
import { runningDaemonPid } from "../../lab/lifecycle.ts";
import { eventually } from "../../harness/eventually.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { processes } from "../../harness/processTree.ts";
import type { ProcessInfo } from "../../harness/processTree.ts";

let lab: TestLab;
let nsm: NsmGrpcClient;
let json: HttpClient;
const pod: Record<string, LabPod> = {};

/** The lab's child processes: the forwarders (by NSM_NAME in their environment) and the relays of its state dir. */
const labProcesses = (prefix: string): ProcessInfo[] =>
  processes().filter(({ env, cmdline }) => {
    // A forwarder's own children (an arping lingering a second) carry its environment too.
    const forwarder = env.TFMESH_NODE_NETNS?.startsWith(`${prefix}-`) && cmdline.includes(" forwarder");
    return forwarder || (cmdline.includes("relay.ts") && cmdline.includes(lab.stateDir));
  });

const forwarderPid = (name: string) => labProcesses(lab.prefix).find((p) => p.env.NSM_NAME === name)?.pid;
const netnsInode = (file: string) => fs.statSync(file).ino;

/** GET from inside a netns, with this Node in that netns: the status, or the error's code. */
function httpFrom(netns: string, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}).then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e.message))`;
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", () => resolve(out.trim()));
  });
}

function attach(id: string, p: LabPod, service: string): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: p.node, podName: p.name } },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: p.netns } }],
  };
}

const checked = async (id: string) => (await json.get<Connection>(`/nsmgr/connections/${id}`)).body;
const podLinks = async (ns: string) => (await ip.json<{ ifname: string; ifindex: number; ifalias?: string }>(["link", "show"], ns)).filter((l) => l.ifname !== "lo" && l.ifname !== "eth0");

beforeAll(async () => {
  lab = await startLab({ kubernetes: true });
  nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
  json = new HttpClient({ baseUrl: lab.endpoints.nsm, headers: () => lab.authHeaders() });
  const headers = await lab.authHeaders();
  const tf = new TfClient({ baseUrl: lab.endpoints.tf, token: () => headers["x-auth-token"] });
  const ipam = ["default-domain", "admin", "ipam-red"];
  await tf.create("network-ipam", { fq_name: ipam, parent_type: "project" });
  await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", "red"],
    parent_type: "project",
    network_ipam_refs: [{ to: ipam, attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.1.1.0", ip_prefix_len: 24 } }] } }],
  });
  await nsm.registerService({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
  await nsm.registerService({ name: "local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
  for (const [name, node] of [["near", "k8s-1"], ["far", "k8s-2"]] as const) pod[name] = labPod(await lab.createPod(name, { node }));
}, LAB_TIMEOUT);

afterAll(async () => {
  nsm?.dispose();
  await lab?.stop();
}, LAB_TIMEOUT);

describe("the lab's forwarder processes", () => {
  it("run a tungsten and a kernel forwarder per k8s node, each in its node's netns, registered at its unix socket", async () => {
    const endpoints = (await nsm.listEndpoints("forwarder")).map((e) => [e.name, e.url]).sort();
    expect(endpoints).toEqual(
      ["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"].map((n) => [n, `unix://${lab.stateDir}/sock/${n}.sock`]),
    );
    for (const name of ["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]) {
      const pid = forwarderPid(name);
      expect(pid, name).toBeDefined();
      const node = name.split("@")[1]!;
      expect(netnsInode(`/proc/${pid}/ns/net`), `${name} runs in its node's netns`).toBe(netnsInode(`/var/run/netns/${lab.prefix}-${node}`));
    }
  });

  it("offer each node's vRouter agent at 127.0.0.1:9091 inside that node only", async () => {
    expect(await httpFrom(`${lab.prefix}-k8s-1`, "http://127.0.0.1:9091/port/00000000-0000-0000-0000-000000000000")).toBe("404");
    expect(await httpFrom(pod.near!.netns, "http://127.0.0.1:9091/port/00000000-0000-0000-0000-000000000000")).toBe("ECONNREFUSED");
  });

  it("build connections through them, checked over MonitorConnections", async () => {
    const near = await nsm.request(attach("near-red", pod.near!, "red"));
    const far = await nsm.request(attach("far-red", pod.far!, "red"));
    const local = await nsm.request(attach("near-local", pod.near!, "local"));
    expect([near.state, far.state, local.state]).toEqual(["UP", "UP", "UP"]);
    expect(near.path?.path_segments.map((s) => s.name)).toEqual(["tfmesh-client", "nsmgr@k8s-1", "tungsten@k8s-1"]);
    expect((await checked("near-red")).state).toBe("UP");
    const farIp = far.context!.ip_context!.src_ip_addrs![0]!.split("/")[0]!;
    expect((await lab.ping(pod.near!.netns, farIp, { count: 1, wait: 2 })).ok).toBe(true);
    const ifname = near.mechanism!.parameters!.name!;
    await lab.inLab(pod.near!.netns, ["ip", "link", "del", "dev", ifname]);
    const down = await checked("near-red");
    expect(down.state).toBe("DOWN");
    await nsm.request(attach("near-red", pod.near!, "red"));
    expect((await checked("near-red")).state).toBe("UP");
  });

  it("start a forwarder killed with -9 again, which keeps its connections: interfaces stay, a repeated request refreshes, close removes", async () => {
    const before = forwarderPid("tungsten@k8s-1")!;
    const links = await podLinks(pod.near!.netns);
    process.kill(before, "SIGKILL");
    await eventually(() => forwarderPid("tungsten@k8s-1") !== undefined && forwarderPid("tungsten@k8s-1") !== before, { what: "tungsten@k8s-1 to be started again" });
    await eventually(async () => (await checked("near-red")).state === "UP", { what: "near-red to be UP through the new forwarder" });
    // The kubelet supervises it as its DaemonSet pod's container: the line names it <namespace>/<pod>/<container>.
    expect(fs.readFileSync(`${lab.stateDir}/daemon.log`, "utf8")).toMatch(new RegExp(`nsm-system/[a-z0-9-]+/[a-z0-9-]+ \\(pid ${before}\\) exited \\(SIGKILL\\)`));
    const again = await nsm.request(attach("near-red", pod.near!, "red"));
    expect(again.state).toBe("UP");
    expect(await podLinks(pod.near!.netns)).toEqual(links);
    for (const id of ["near-red", "far-red", "near-local"]) await nsm.close({ id });
    expect(await podLinks(pod.near!.netns)).toEqual([]);
    expect(await podLinks(pod.far!.netns)).toEqual([]);
  });

  it("exit when the daemon is killed outright, and come back with it", async () => {
    const daemon = runningDaemonPid(lab.stateDir)!;
    expect(labProcesses(lab.prefix).length).toBe(6);
    process.kill(daemon, "SIGKILL");
    await eventually(() => labProcesses(lab.prefix).length === 0, { what: "the forwarders and relays to exit with the daemon" });
    await lab.restart();
    expect((await nsm.listEndpoints("forwarder")).map((e) => e.name).sort()).toEqual(["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]);
  });

  it("are gone once the lab stopped: SIGTERM unregistered them, nothing is left running", async () => {
    expect(labProcesses(lab.prefix).length).toBe(6);
    await lab.stop();
    expect(labProcesses(lab.prefix)).toEqual([]);
  });
});
