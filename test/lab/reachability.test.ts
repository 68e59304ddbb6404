// `lab reach` and `lab exec` against a small private lab: two TF networks, a VM and an NSM-attached
// pod on each. The measured matrix follows the real data plane (and changes when an interface is
// lost), --expect passes or fails with the pair named, and exec runs any program with its output
// and exit code passed through.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../lib/http/client.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { measureReachability } from "../../lab/reachability.ts";
import type { Reachability } from "../../lab/reachability.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { TfClient } from "../../wire/tf.ts";
import type { Connection } from "../../wire/nsm/api.ts";
import { eventually } from "../../harness/eventually.ts";
import { labPod } from "../../harness/kube.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

const CLI = new URL("../../cli/tfmesh.ts", import.meta.url).pathname;

let lab: TestLab;
let prefix = "";
let tmp = "";
const vmIp: Record<string, string> = {};
const nsmConn: Record<string, Connection> = {};

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(command: string, ...args: string[]): Promise<CliResult> {
  const argv = [CLI, "lab", command, "--instance", lab.name, "--state-dir", lab.stateDir, ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function expectationFile(name: string, json: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

const pair = (r: Reachability, from: string, to: string) => r.pairs.find((p) => p.from === from && p.to === to)!;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-reach-"));
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1"] });
  prefix = lab.prefix;
  const headers = await lab.authHeaders();
  const tf = new TfClient({ baseUrl: lab.endpoints.tf, token: () => headers["x-auth-token"] });
  const nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
  const nova = new HttpClient({ baseUrl: lab.endpoints.nova, headers: () => headers, retries: 0 });
  const glance = new HttpClient({ baseUrl: lab.endpoints.glance, headers: () => headers, retries: 0 });
  const image = (await glance.get<{ images: Array<{ id: string }> }>("/v2/images")).body.images[0]!.id;

  for (const [color, cidr] of [["red", "10.1.1.0/24"], ["blue", "10.2.2.0/24"]] as const) {
    const ipam = ["default-domain", "admin", `ipam-${color}`];
    await tf.create("network-ipam", { fq_name: ipam, parent_type: "project" });
    const [addr, len] = cidr.split("/");
    const vn = await tf.create("virtual-network", {
      fq_name: ["default-domain", "admin", color],
      parent_type: "project",
      network_ipam_refs: [{ to: ipam, attr: { ipam_subnets: [{ subnet: { ip_prefix: addr, ip_prefix_len: Number(len) } }] } }],
    });
    await nsm.upsertNetworkService({ name: color, payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: `default-domain:admin:${color}` } });

    const server = (await nova.post<{ server: { id: string } }>("/servers", { server: { name: `${color}-vm`, imageRef: image, flavorRef: "1", networks: [{ uuid: vn.uuid }] } })).body.server;
    const booted = await eventually(
      async () => {
        const s = (await nova.get<{ server: { status: string; addresses: Record<string, Array<{ addr: string }>> } }>(`/servers/${server.id}`)).body.server;
        return s.status !== "BUILD" && s;
      },
      { what: `${color}-vm to leave BUILD`, timeoutMs: 60_000 },
    );
    if (booted.status !== "ACTIVE") throw new Error(`${color}-vm failed to boot: ${booted.status}`);
    vmIp[color] = Object.values(booted.addresses)[0]![0]!.addr;

    const pod = labPod(await lab.createPod(`${color}-pod`, { node: "k8s-1" }));
    nsmConn[color] = await nsm.request({
      connection: { id: `reach-${color}`, network_service: color, labels: { nodeName: pod.node, podName: pod.name } },
      mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: pod.netns, inodeURL: `file:///var/run/netns/${pod.netns}` } }],
    });
  }
  nsm.dispose();
}, LAB_TIMEOUT);

afterAll(async () => {
  try {
    await lab?.stop();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (prefix) expect(netns.list(`${prefix}-`)).toEqual([]);
}, LAB_TIMEOUT);

const SCENARIO = { workloads: ["red-pod", "blue-pod", "red-vm", "blue-vm"], reachable: ["red-pod <-> red-vm", "blue-pod <-> blue-vm"] };

describe("measuring reachability in a lab", () => {
  it("finds each pod and VM with its interfaces and networks, and pings every pair both ways", async () => {
    const r = await measureReachability(await lab.topology());
    expect(r.workloads.map((w) => `${w.kind} ${w.name}`)).toEqual(["vm blue-vm", "vm red-vm", "pod blue-pod", "pod red-pod"]);
    expect(r.workloads.find((w) => w.name === "red-pod")!.interfaces.map((f) => [f.name, f.network])).toEqual([
      ["eth0", "pod network"],
      ["nsm-1", "red"],
    ]);
    expect(r.pairs).toHaveLength(2 * 2 + 2 * 2 + 2);
    expect(pair(r, "red-pod", "red-vm")).toMatchObject({ reachable: true, probes: [{ address: vmIp.red, ok: true }] });
    expect(pair(r, "red-pod", "red-vm").probes[0]!.rttMs).toBeGreaterThan(0);
    expect(pair(r, "red-vm", "red-pod").probes.filter((p) => p.ok).map((p) => p.iface)).toEqual(["nsm-1"]);
    expect(pair(r, "blue-pod", "blue-vm").reachable).toBe(true);
    expect(pair(r, "blue-pod", "red-vm").reachable).toBe(false);
    expect(pair(r, "red-pod", "blue-vm").reachable).toBe(false);
    expect(pair(r, "blue-vm", "red-pod").reachable).toBe(false);
    expect(pair(r, "blue-vm", "red-vm").reachable).toBe(false);
  });

  it("reach --expect says MATCHES and exits 0 when the lab behaves as written", async () => {
    const r = await cli("reach", "--expect", expectationFile("ok.json", SCENARIO));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pods → VMs\s+red-vm\s+blue-vm\n\s+red-pod\s+✓ [\d.]+ ms\s+✗\n\s+blue-pod\s+✗\s+✓ [\d.]+ ms/);
    expect(r.stdout).toMatch(/VMs → pods\s+red-pod\s+blue-pod\n\s+red-vm\s+✓ nsm-1 [\d.]+ ms\s+✗/);
    expect(r.stdout).toContain("✓ MATCHES: all 10 measured pairs are as expected (4 reachable, 6 isolated)");
  });

  it("reach --expect names the differing pair and exits 1 when it does not match", async () => {
    const wrong = { ...SCENARIO, reachable: [...SCENARIO.reachable, "blue-pod -> red-vm"] };
    const r = await cli("reach", "--expect", expectationFile("wrong.json", wrong));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ DOES NOT MATCH: 1 problem");
    expect(r.stdout).toContain(`blue-pod → red-vm: expected reachable, measured isolated (no reply from ${vmIp.red})`);
  });

  it("reach --json gives the measured pairs and the comparison to programs", async () => {
    const r = await cli("reach", "--json", "--expect", expectationFile("ok2.json", SCENARIO));
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as Reachability & { expectation: { matches: boolean; checked: number } };
    expect(body.instance).toBe(lab.name);
    expect(body.pairs).toHaveLength(10);
    expect(body.expectation).toMatchObject({ matches: true, checked: 10 });
  });

  it("refuses a malformed expectation before measuring, with exit code 2", async () => {
    const r = await cli("reach", "--expect", expectationFile("bad.json", { reachable: ["red-pod => red-vm"] }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: cannot read "red-pod => red-vm"/);
    expect(r.stdout).toBe("");
  });
});

describe("lab exec", () => {
  it("runs any program inside the pod, not only the kernel tools", async () => {
    const r = await cli("exec", "red-pod", "--", "cat", "/sys/class/net/nsm-1/address");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(nsmConn.red!.context!.ethernet_context!.src_mac);
    const links = await cli("exec", "red-pod", "--", "ls", "/sys/class/net");
    expect(links.stdout.split(/\s+/).filter(Boolean).sort()).toEqual(["eth0", "lo", "nsm-1"]);
  });

  it("hands the argv over as is (no shell) and passes the exit code through", async () => {
    const literal = await cli("exec", "red-vm", "--", "echo", "$(id);", "*", "&&", "x");
    expect(literal.stdout).toBe("$(id); * && x\n");
    expect((await cli("exec", "red-vm", "--", "sh", "-c", "exit 7")).code).toBe(7);
    const lost = await cli("exec", "blue-pod", "--", "ping", "-c", "1", "-W", "1", vmIp.red!);
    expect(lost.code).not.toBe(0);
  });
});

describe("netns.spawn (what lab exec runs on)", () => {
  it("streams the program's output and resolves with its exit code", async () => {
    let out = "";
    const code = await netns.spawn(await lab.netnsOf("red-pod"), ["sh", "-c", "cat /sys/class/net/nsm-1/operstate; exit 3"], {
      stdio: "pipe",
      onSpawn: (child) => child.stdout?.on("data", (d: Buffer) => (out += d.toString())),
    });
    expect(code).toBe(3);
    expect(out.trim()).toBe("up");
  });

  it("refuses a namespace that does not exist and an empty command, running nothing", async () => {
    await expect(netns.spawn(`${prefix}-pod-gone`, ["true"])).rejects.toThrow(/does not exist/);
    await expect(netns.spawn(await lab.netnsOf("red-pod"), [])).rejects.toThrow(/no program/);
    await expect(netns.spawn("bad name;", ["true"])).rejects.toThrow();
  });
});

describe("after damage", () => {
  it("shows the pod cut off once its NSM interface is gone, and --expect fails", async () => {
    await netns.exec(await lab.netnsOf("red-pod"), ["ip", "link", "del", "dev", "nsm-1"]);
    const r = await measureReachability(await lab.topology());
    expect(pair(r, "red-pod", "red-vm").reachable).toBe(false);
    expect(pair(r, "red-vm", "red-pod").reachable).toBe(false);
    expect(pair(r, "blue-pod", "blue-vm").reachable).toBe(true);
    const cmp = await cli("reach", "--expect", expectationFile("ok3.json", SCENARIO));
    expect(cmp.code).toBe(1);
    expect(cmp.stdout).toContain("red-pod → red-vm: expected reachable, measured isolated");
    expect(cmp.stdout).toContain("red-vm → red-pod: expected reachable, measured isolated");
  });
});
