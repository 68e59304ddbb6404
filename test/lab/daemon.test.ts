// The lab daemon as its users see it: one process, every API on 127.0.0.1, the kernel built and
// reconciled, pods that really get a network, state that survives a restart, nothing left behind.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpError } from "../../lib/http/client.ts";
import * as ip from "../../lib/kernel/ip.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { readEndpoints } from "../../lab/endpoints.ts";
import { runningDaemonPid } from "../../lab/lifecycle.ts";
import { runtimeNameOf } from "../../lab/kube/podStore.ts";
import { labPod } from "../../harness/kube.ts";
import type { LabPod as Pod } from "../../harness/kube.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { Pod as KubePod } from "../../wire/kubernetes.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

let lab: TestLab;
let prefix = "";

beforeAll(async () => {
  lab = await startLab({ kubernetes: true });
  prefix = lab.prefix;
}, LAB_TIMEOUT);

afterAll(async () => {
  await lab?.stop();
  // The point of the fixture: not one namespace of this instance survives.
  if (prefix) expect(netns.list(`${prefix}-`)).toEqual([]);
}, LAB_TIMEOUT);

/** Local addresses of listening TCP sockets for a port, from /proc/net/tcp{,6}. */
function listenAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== "0A") continue; // LISTEN
      const [addr, p] = (cols[1] ?? "").split(":");
      if (Number.parseInt(p ?? "", 16) === port) out.push(addr ?? "");
    }
  }
  return out;
}

async function eth0Of(ns: string) {
  const [link] = await ip.json<{ address: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>(["addr", "show", "dev", "eth0"], ns);
  return { mac: link?.address, addrs: (link?.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`) };
}

describe("a started lab", () => {
  it("is healthy, and tells clients where it is in endpoints.json", async () => {
    const health = (await lab.api.get<{ status: string; instance: string }>("/lab/health")).body;
    expect(health).toMatchObject({ status: "ok", instance: lab.name });
    expect(readEndpoints(lab.stateDir)).toEqual(lab.endpoints);
    expect(runningDaemonPid(lab.stateDir)).toBeGreaterThan(0);
    expect(fs.existsSync(`${lab.stateDir}/daemon.log`)).toBe(true);
  });

  it("listens on 127.0.0.1 only, on every API port of the instance, and not on the agents' ports", () => {
    const p = lab.config.ports;
    const nodeCount = lab.config.computeNodes.length + lab.config.k8sNodes.length;
    const ports = [p.tf, p.keystone, p.nova, p.neutron, p.glance, p.nsm, p.nsmGrpc, p.lab];
    for (const port of ports) expect(listenAddresses(port), `port ${port}`).toEqual(["0100007F"]);
    // The vRouter agents are node-local: their sockets on the host, 127.0.0.1:9091 inside their node.
    for (let i = 0; i < nodeCount; i++) expect(listenAddresses(p.agentBase + i), `agent port ${p.agentBase + i}`).toEqual([]);
  });

  it("has built the underlay and one namespace per node", () => {
    const names = lab.namespaces();
    expect(names).toContain(`${prefix}-underlay`);
    for (const n of [...lab.config.computeNodes, ...lab.config.k8sNodes]) expect(names).toContain(`${prefix}-${n}`);
  });

  it("reports its nodes and object counts", async () => {
    const s = await lab.status();
    expect(s.nodes.map((n) => n.name)).toEqual(["compute-1", "compute-2", "k8s-1", "k8s-2"]);
    expect(s.counts).toMatchObject({ pods: 0, connections: 0 });
  });

  it("has no pod API of its own: its pods are Kubernetes pods", async () => {
    const err = await lab.api.post("/pods", { name: "x" }).catch((e: HttpError) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(404);
    expect(lab.endpoints.kubernetes?.kubeconfig).toBe(`${lab.stateDir}/kubeconfig`);
  });
});

describe("pods", () => {
  let a: Pod;
  let b: Pod;

  beforeAll(async () => {
    a = labPod(await lab.createPod("pod-a", { node: "k8s-1" }));
    b = labPod(await lab.createPod("pod-b", { node: "k8s-2" }));
  }, LAB_TIMEOUT);

  it("get eth0 on the pod network of their node", async () => {
    expect(a).toMatchObject({ node: "k8s-1", netns: `${prefix}-pod-${runtimeNameOf("default", "pod-a")}` });
    expect(a.ip).toMatch(/^10\.244\.1\.\d+$/);
    expect(b.ip).toMatch(/^10\.244\.2\.\d+$/);
    const e = await eth0Of(a.netns);
    expect(e.addrs).toEqual([`${a.ip}/16`]);
  });

  it("on different k8s nodes reach each other", async () => {
    expect((await lab.ping("pod-a", b.ip, { count: 2, wait: 2 })).ok).toBe(true);
    expect((await lab.ping("pod-b", a.ip, { count: 2, wait: 2 })).ok).toBe(true);
  });

  it("show up in the topology with their interfaces", async () => {
    const t = await lab.topology();
    const k8s1 = t.nodes.find((n) => n.name === "k8s-1");
    const pod = k8s1?.pods.find((p) => p.name === "pod-a");
    expect(pod?.interfaces.find((i) => i.name === "eth0")).toMatchObject({ mac: (await eth0Of(a.netns)).mac, network: "pod" });
  });

  it("are deleted with their namespace", async () => {
    const c = labPod(await lab.createPod("pod-c"));
    expect(netns.exists(c.netns)).toBe(true);
    await lab.deletePod("pod-c");
    expect(netns.exists(c.netns)).toBe(false);
    expect((await lab.status()).counts.pods).toBe(2);
  });
});

/** The API server's pods as the lab runs them (uid, node, netns, address), by name. */
async function podsNow(): Promise<Pod[]> {
  const items = (await lab.kube!.list<KubePod>(resourcePath("v1", "pods", "default"))).items;
  return items.map(labPod).sort((x, y) => x.name.localeCompare(y.name));
}

describe("a restart", () => {
  it("keeps the pods and reconciles the kernel with them", async () => {
    const before = await podsNow();
    expect(before.map((p) => p.name)).toEqual(["pod-a", "pod-b"]);

    await lab.restart();
    expect(await podsNow()).toEqual(before);
    const b = before[1]!;
    expect((await lab.ping("pod-a", b.ip, { count: 2, wait: 2 })).ok).toBe(true);
  }, LAB_TIMEOUT);

  it("rebuilds kernel pieces that went missing while it was down", async () => {
    const [a, b] = await podsNow();
    // Damage while the daemon is down: pod-a's namespace disappears.
    await lab.restart(() => netns.del(a!.netns));
    expect(netns.exists(a!.netns)).toBe(true);
    expect((await lab.ping("pod-a", b!.ip, { count: 2, wait: 2 })).ok).toBe(true);
  }, LAB_TIMEOUT);

  it("comes back after the daemon was killed outright (stale daemon.pid)", async () => {
    const pid = runningDaemonPid(lab.stateDir)!;
    await lab.restart(async () => {
      // restart() stopped it cleanly; put back what a SIGKILL leaves: a pid file naming a dead process.
      fs.writeFileSync(`${lab.stateDir}/daemon.pid`, `${pid}\n`);
    });
    expect(runningDaemonPid(lab.stateDir)).not.toBe(pid);
    expect((await lab.status()).counts.pods).toBe(2);
  }, LAB_TIMEOUT);
});
