// The lab CLI end to end against a private instance: up, status, topology, exec, down, up again
// (warm, state kept), down --wipe (nothing left in the kernel or on disk).
import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../lib/http/client.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { loadInstance } from "../../lab/instance.ts";
import type { LabInstanceConfig } from "../../lab/instance.ts";
import { runningDaemonPid, stopDaemon, wipeKernel } from "../../lab/lifecycle.ts";
import { eventually } from "../../harness/eventually.ts";
import { LAB_TIMEOUT, registerForSweep, sweepStaleLabs, testInstanceIdentity } from "../../harness/lab.ts";
import { createPod } from "../../harness/kube.ts";
import { runtimeNameOf } from "../../lab/kube/podStore.ts";
import { loadKubeconfig } from "../../wire/kubeconfig.ts";
import { KubernetesClient, resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";

const CLI = new URL("../../cli/tfmesh.ts", import.meta.url).pathname;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const { name, prefix } = testInstanceIdentity();
const podNetns = (pod: string) => `${prefix}-pod-${runtimeNameOf("default", pod)}`;
let stateDir: string;
let sweepRecord = "";
const instanceArgs = () => ["--instance", name, "--prefix", prefix, "--state-dir", stateDir];

function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "lab", ...args], { encoding: "utf8", timeout: LAB_TIMEOUT }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const lab = (...args: string[]) => cli(args[0]!, ...instanceArgs(), ...args.slice(1));

function config(): LabInstanceConfig {
  const c = loadInstance(stateDir);
  if (!c) throw new Error("instance not stored");
  return c;
}

beforeAll(async () => {
  await sweepStaleLabs();
  stateDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-cli-")), "state");
  sweepRecord = registerForSweep({ prefix, stateDir });
});

afterAll(async () => {
  // Whatever the tests did, the instance goes.
  await stopDaemon(stateDir, 10_000).catch(() => false);
  await wipeKernel(prefix);
  fs.rmSync(path.dirname(stateDir), { recursive: true, force: true });
  fs.rmSync(sweepRecord, { force: true });
  expect(netns.list(`${prefix}-`)).toEqual([]);
}, LAB_TIMEOUT);

describe("lab up", () => {
  it("starts the daemon in the background, shows progress and prints the endpoints", async () => {
    const r = await lab("up", "--ports", "auto");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/• .*data plane/);
    expect(r.stdout).toMatch(new RegExp(`Lab "${name}" is up \\(pid \\d+`));
    expect(r.stdout).toContain(`http://127.0.0.1:${config().ports.tf}`);
    expect(r.stdout).not.toContain(config().credentials.password);
    expect(runningDaemonPid(stateDir)).toBeGreaterThan(0);
    // A new instance runs Kubernetes unless told otherwise.
    expect(config().kubernetes).toBe(true);
    expect(r.stdout).toContain(path.join(stateDir, "kubeconfig"));
  }, LAB_TIMEOUT);

  it("says so when the lab is already running", async () => {
    const pid = runningDaemonPid(stateDir);
    const r = await lab("up");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`is already running (pid ${pid})`);
    expect(runningDaemonPid(stateDir)).toBe(pid);
  });
});

/** A Keystone token for the instance's admin, as any OpenStack client would get it. */
async function token(): Promise<string> {
  const c = config();
  const res = await new HttpClient({ baseUrl: `http://127.0.0.1:${c.ports.keystone}/v3`, retries: 0 }).post("/auth/tokens", {
    auth: {
      identity: { methods: ["password"], password: { user: { name: c.credentials.username, domain: { name: "Default" }, password: c.credentials.password } } },
      scope: { project: { name: "admin", domain: { name: "Default" } } },
    },
  });
  return res.headers["x-subject-token"]!;
}

describe("with a VM and pods in the lab", () => {
  let kube: KubernetesClient;
  let bIp = "";
  let vm = { id: "", ip: "", gateway: "" };

  beforeAll(async () => {
    const c = config();
    const headers = { "x-auth-token": await token() };
    const neutron = new HttpClient({ baseUrl: `http://127.0.0.1:${c.ports.neutron}/v2.0`, headers: () => headers, retries: 0 });
    const nova = new HttpClient({ baseUrl: `http://127.0.0.1:${c.ports.nova}/v2.1`, headers: () => headers, retries: 0 });
    const net = (await neutron.post<{ network: { id: string } }>("/networks", { network: { name: "red" } })).body.network;
    const subnet = (await neutron.post<{ subnet: { gateway_ip: string } }>("/subnets", { subnet: { network_id: net.id, ip_version: 4, cidr: "10.1.1.0/24" } })).body.subnet;
    const images = (await new HttpClient({ baseUrl: `http://127.0.0.1:${c.ports.glance}/v2`, headers: () => headers }).get<{ images: Array<{ id: string }> }>("/images")).body.images;
    const created = (
      await nova.post<{ server: { id: string } }>("/servers", { server: { name: "red-vm", imageRef: images[0]!.id, flavorRef: "1", networks: [{ uuid: net.id }] } })
    ).body.server;
    const server = await eventually(
      async () => {
        const s = (await nova.get<{ server: { status: string; addresses: Record<string, Array<{ addr: string }>> } }>(`/servers/${created.id}`)).body.server;
        return s.status !== "BUILD" && s;
      },
      { what: "red-vm to leave BUILD", timeoutMs: 60_000 },
    );
    if (server.status !== "ACTIVE") throw new Error(`red-vm failed to boot: ${server.status}`);
    vm = { id: created.id, ip: server.addresses.red![0]!.addr, gateway: subnet.gateway_ip };
    // `lab up` runs Kubernetes by default: pods are Kubernetes pods.
    kube = new KubernetesClient(loadKubeconfig(path.join(c.stateDir, "kubeconfig")).options);
    await createPod(kube, "web", { node: "k8s-1" });
    bIp = (await createPod(kube, "db", { node: "k8s-2" })).status!.podIP!;
  }, LAB_TIMEOUT);

  it("status shows health, nodes and counts", async () => {
    const r = await lab("status");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("running and healthy");
    expect(r.stdout).toMatch(/k8s-2\s+k8s\s+172\.31\.0\.13/);
    expect(r.stdout).toMatch(/virtual networks\s+1\n/);
    expect(r.stdout).toMatch(/VMs\s+1\n/);
    expect(r.stdout).toMatch(/ports \(VMIs\)\s+1\n/);
    expect(r.stdout).toMatch(/pods\s+2\n/);
    expect(r.stdout).toMatch(/NSM connections\s+0\n/);
    // Each pod with its namespace, node, netns and Ready state; the forwarders' DaemonSet pods on the node's netns.
    expect(r.stdout).toMatch(new RegExp(`\\n  default\\s+db\\s+k8s-2\\s+${podNetns("db")}\\s+Ready\\n`));
    expect(r.stdout).toMatch(new RegExp(`\\n  default\\s+web\\s+k8s-1\\s+${podNetns("web")}\\s+Ready\\n`));
    expect(r.stdout).toMatch(new RegExp(`\\n  nsm-system\\s+\\S+\\s+k8s-1\\s+${prefix}-k8s-1 \\(host network\\)\\s+Ready\\n`));
  });

  it("topology draws the nodes, the VN bridge, the VM and the pods with their addresses", async () => {
    const r = await lab("topology");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Lab ".*" \(prefix \w+\): 4 nodes, 1 virtual network, 1 VM, 2 pods/);
    expect(r.stdout).toMatch(/red\s+default-domain:admin:red\s+VNI \d+/);
    expect(r.stdout).toMatch(/vn\d+ ⇄ vx\d+\s+red/);
    expect(r.stdout).toContain(`red-vm  server ${vm.id}`);
    expect(r.stdout).toMatch(new RegExp(`eth0\\s+[0-9a-f:]{17}\\s+${vm.ip.replace(/\./g, "\\.")}/24\\s+→ red`));
    expect(r.stdout).toMatch(/k8s-2\s+k8s\s+172\.31\.0\.13/);
    expect(r.stdout).toContain(`db  netns ${podNetns("db")}`);
    expect(r.stdout).toMatch(new RegExp(`eth0\\s+0a:58:[0-9a-f:]+\\s+${bIp.replace(/\./g, "\\.")}/16\\s+→ pod network`));
  });

  it("exec finds a VM by Nova name or server id and runs the command in its namespace", async () => {
    const byName = await lab("exec", "red-vm", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0");
    expect(byName.code).toBe(0);
    expect(byName.stdout).toContain(`inet ${vm.ip}/24`);
    const byId = await lab("exec", vm.id.slice(0, 8), "--", "ping", "-c", "1", "-W", "2", vm.gateway);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toContain("1 received");
  });

  it("exec runs a command in a pod's namespace and passes its output and exit code through", async () => {
    const ok = await lab("exec", "web", "--", "ping", "-c", "1", "-W", "2", bIp);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("1 received");
    const addr = await lab("exec", "web", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0");
    expect(addr.stdout).toMatch(/inet 10\.244\.1\.\d+\/16/);
    const lost = await lab("exec", "web", "--", "ping", "-c", "1", "-W", "1", "10.244.99.99");
    expect(lost.code).toBe(1);
  });

  it("exec refuses unknown targets and names what exists", async () => {
    const r = await lab("exec", "nope", "--", "ip", "addr");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no VM or pod "nope".*web, db/);
  });

  it("down stops the daemon but keeps state and kernel; up brings everything back", async () => {
    const down = await lab("down");
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`Stopped lab "${name}"`);
    expect(runningDaemonPid(stateDir)).toBeUndefined();
    expect(netns.exists(podNetns("web"))).toBe(true);
    const st = await lab("status");
    expect(st.code).toBe(3);
    expect(st.stdout).toContain("stopped");

    const up = await lab("up");
    expect(up.code).toBe(0);
    const list = (await kube.list<Pod>(resourcePath("v1", "pods", "default"))).items.map((p) => p.metadata.name).sort();
    expect(list).toEqual(["db", "web"]);
    await eventually(() => netns.exists(podNetns("web")) && netns.exists(podNetns("db")), { what: "the pods' namespaces after the restart" });
    expect((await lab("exec", "web", "--", "ping", "-c", "1", "-W", "2", bIp)).code).toBe(0);
    expect((await lab("exec", "red-vm", "--", "ping", "-c", "1", "-W", "2", vm.gateway)).code).toBe(0);
  }, LAB_TIMEOUT);
});

describe("a port taken while the lab was down", () => {
  it("makes up fail with the port named and only this start's log lines, and up works once it is free", async () => {
    expect((await lab("down")).code).toBe(0);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(config().ports.nova, "127.0.0.1", () => r()));
    try {
      const r = await lab("up");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${config().ports.nova} (nova) is already in use on 127.0.0.1`);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stderr).not.toMatch(/ready in \d+ ms/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    expect((await lab("up")).code).toBe(0);
  }, LAB_TIMEOUT);
});

describe("lab down --wipe", () => {
  it("stops the lab and removes every namespace and the state dir", async () => {
    const r = await lab("down", "--wipe");
    expect(r.code).toBe(0);
    expect(netns.list(`${prefix}-`)).toEqual([]);
    expect(fs.existsSync(stateDir)).toBe(false);
  }, LAB_TIMEOUT);

  it("also cleans up an instance whose daemon is not running", async () => {
    await netns.add(`${prefix}-leftover`);
    const r = await lab("down", "--wipe");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("was not running");
    expect(netns.list(`${prefix}-`)).toEqual([]);
  });

  it("commands other than up refuse an instance that does not exist", async () => {
    const r = await lab("status");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/there is no lab instance/);
  });
});

describe("lab up --no-kubernetes", () => {
  it("makes an instance without Kubernetes (so without pods), and a later up without the flag keeps it so", async () => {
    const r = await lab("up", "--ports", "auto", "--no-kubernetes");
    expect(r.code, r.stderr).toBe(0);
    expect(config().kubernetes).toBeFalsy();
    expect(r.stdout).not.toContain("kubeconfig");
    expect(fs.existsSync(path.join(stateDir, "kubeconfig"))).toBe(false);
    expect((await lab("down")).code).toBe(0);
    const again = await lab("up");
    expect(again.code, again.stderr).toBe(0);
    expect(config().kubernetes).toBeFalsy();
    expect(again.stdout).not.toContain("kubeconfig");
    expect((await lab("down", "--wipe")).code).toBe(0);
    expect(netns.list(`${prefix}-`)).toEqual([]);
  }, LAB_TIMEOUT);
});

describe("usage errors", () => {
  it("rejects unknown commands and options with the usage text", async () => {
    const r = await cli("launch");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "launch"[\s\S]*usage:/);
    const o = await cli("up", "--colour");
    expect(o.code).toBe(2);
  });

  it("rejects unsafe instance names and prefixes before touching anything", async () => {
    const r = await cli("up", "--instance", "../../etc", "--state-dir", path.join(os.tmpdir(), "tfmesh-never"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DNS-1123/);
    const p = await cli("up", "--instance", "okname", "--prefix", "bad-prefix", "--state-dir", path.join(os.tmpdir(), "tfmesh-never"));
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/prefix "bad-prefix"/);
    expect(fs.existsSync(path.join(os.tmpdir(), "tfmesh-never"))).toBe(false);
  });
});
