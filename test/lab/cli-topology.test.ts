// `lab topology` draws what a person needs to see: where each VM and pod runs, with which MAC and
// address on which network, and which VN bridges (and VNIs) each node carries.
import { describe, expect, it } from "vitest";
import { renderTopology } from "../../lab/topologyView.ts";
import type { TopologyView } from "../../lab/topologyView.ts";
import { findWorkload, WorkloadLookupError } from "../../lab/workloads.ts";

const red = "default-domain:admin:red";
const blue = "default-domain:admin:blue";

const view: TopologyView = {
  instance: "default",
  prefix: "tfm",
  underlay: { netns: "tfm-underlay", cidr: "172.31.0.0/24" },
  nodes: [
    {
      name: "compute-1",
      kind: "compute",
      netns: "tfm-compute-1",
      underlayIp: "172.31.0.10",
      networks: [{ networkId: 5, fqName: red, bridge: "vn5", vxlan: "vx5", gateways: ["10.1.1.1/24"], ports: ["tap3f2a1b9c00a"] }],
      vms: [
        {
          serverId: "3f2a1b9c-0000-4000-8000-000000000001",
          name: "red-vm-1",
          netns: "tfm-vm-3f2a1b9c",
          interfaces: [{ name: "eth0", mac: "02:3f:2a:1b:9c:00", addresses: ["10.1.1.3/24"], network: red, networkId: 5 }],
        },
      ],
      pods: [],
    },
    { name: "compute-2", kind: "compute", netns: "tfm-compute-2", underlayIp: "172.31.0.11", networks: [], vms: [], pods: [] },
    {
      name: "k8s-1",
      kind: "k8s",
      netns: "tfm-k8s-1",
      underlayIp: "172.31.0.12",
      networks: [
        { networkId: 5, fqName: red, bridge: "vn5", vxlan: "vx5", gateways: ["10.1.1.1/24"], ports: ["tapaa1100000000"] },
        { networkId: 6, fqName: blue, bridge: "vn6", vxlan: "vx6", gateways: ["10.2.2.1/24"], ports: ["tapbb1100000000"] },
      ],
      vms: [],
      pods: [
        {
          name: "both-pod",
          netns: "tfm-pod-both-pod",
          interfaces: [
            { name: "eth0", mac: "0a:58:0a:f4:03:02", addresses: ["10.244.3.2/16"], network: "pod" },
            { name: "nsm-1", mac: "02:aa:11:00:00:01", addresses: ["10.1.1.5/24"], network: red, networkId: 5 },
            { name: "nsm-2", mac: "02:bb:11:00:00:01", addresses: ["10.2.2.3/24"], network: blue, networkId: 6 },
          ],
        },
      ],
    },
  ],
};

describe("topology picture", () => {
  const text = renderTopology(view);
  const lines = text.split("\n");
  const lineWith = (s: string) => lines.find((l) => l.includes(s)) ?? "";

  it("is a tree, not a data dump", () => {
    expect(text).not.toMatch(/[{}[\]]/);
    expect(lines.some((l) => l.startsWith("├─ compute-1"))).toBe(true);
    expect(lines.some((l) => l.startsWith("└─ k8s-1"))).toBe(true);
  });

  it("sums up the instance and lists each VN once with its VNI, gateway and nodes", () => {
    expect(lines[0]).toBe('Lab "default" (prefix tfm): 3 nodes, 2 virtual networks, 1 VM, 1 pod');
    expect(lineWith(red)).toMatch(/red\s+default-domain:admin:red\s+VNI 5\s+gateway 10\.1\.1\.1\/24\s+on compute-1, k8s-1/);
  });

  it("shows each node on the underlay with its address and VN bridges", () => {
    expect(lineWith("compute-1  ")).toMatch(/compute-1\s+compute\s+172\.31\.0\.10\s+netns tfm-compute-1/);
    expect(lineWith("vn6 ⇄ vx6")).toMatch(/blue\s+VNI 6\s+gw 10\.2\.2\.1\/24/);
    expect(lineWith("compute-2").length).toBeGreaterThan(0);
    expect(text).toContain("(no virtual networks or workloads yet)");
  });

  it("shows VMs and pods with every interface, its MAC, address and network", () => {
    expect(lineWith("red-vm-1")).toContain("netns tfm-vm-3f2a1b9c");
    expect(lineWith("02:3f:2a:1b:9c:00")).toMatch(/eth0\s+02:3f:2a:1b:9c:00\s+10\.1\.1\.3\/24\s+→ red$/);
    expect(lineWith("10.244.3.2")).toMatch(/eth0\s+0a:58:0a:f4:03:02\s+10\.244\.3\.2\/16\s+→ pod network/);
    expect(lineWith("nsm-2")).toMatch(/→ blue$/);
  });

  it("lines up the interface columns of one workload", () => {
    const cols = ["0a:58", "02:aa:11", "02:bb:11"].map((m) => lineWith(m).indexOf(m));
    expect(new Set(cols).size).toBe(1);
  });

  it("falls back to full fq_names when two VNs share a short name", () => {
    const other = "default-domain:demo:red";
    const twin: TopologyView = structuredClone(view);
    twin.nodes[1]!.networks.push({ networkId: 7, fqName: other, bridge: "vn7", vxlan: "vx7", gateways: ["10.9.9.1/24"], ports: [] });
    const t = renderTopology(twin);
    expect(t).toContain(`vn7 ⇄ vx7  ${other}`);
    expect(t).toContain(`→ ${red}`);
  });
});

describe("finding a workload for exec", () => {
  it("finds VMs by Nova name, full id or id prefix, and pods by name", () => {
    expect(findWorkload(view, "red-vm-1").netns).toBe("tfm-vm-3f2a1b9c");
    expect(findWorkload(view, "3f2a1b9c-0000-4000-8000-000000000001").netns).toBe("tfm-vm-3f2a1b9c");
    expect(findWorkload(view, "3f2a1b9c").netns).toBe("tfm-vm-3f2a1b9c");
    expect(findWorkload(view, "both-pod")).toMatchObject({ kind: "pod", node: "k8s-1", netns: "tfm-pod-both-pod" });
  });

  it("finds Kubernetes pods as topology names them: name in namespace default (also default/name), else namespace/name", () => {
    const k: TopologyView = structuredClone(view);
    k.nodes[1]!.pods.push({ name: "team-a/web", netns: "tfm-pod-team-a-web-1a2b3c4d", interfaces: [] });
    expect(findWorkload(k, "default/both-pod").netns).toBe("tfm-pod-both-pod");
    expect(findWorkload(k, "team-a/web")).toMatchObject({ kind: "pod", netns: "tfm-pod-team-a-web-1a2b3c4d" });
    expect(() => findWorkload(k, "web")).toThrow(/no VM or pod "web".*team-a\/web/);
    expect(() => findWorkload(k, "default/web")).toThrow(WorkloadLookupError);
  });

  it("names what exists when the target is unknown, and refuses ambiguous names", () => {
    expect(() => findWorkload(view, "nope")).toThrow(/no VM or pod "nope".*red-vm-1, both-pod/);
    const dup: TopologyView = structuredClone(view);
    dup.nodes[1]!.vms.push({ serverId: "99999999-0000-4000-8000-000000000001", name: "red-vm-1", netns: "tfm-vm-99999999", interfaces: [] });
    expect(() => findWorkload(dup, "red-vm-1")).toThrow(WorkloadLookupError);
    expect(findWorkload(dup, "99999999").netns).toBe("tfm-vm-99999999");
  });
});
