// The kubelet's node duties for the lab's k8s nodes: register each as a Node (InternalIP on the
// underlay, podCIDR = the lab's pod subnet of that node), keep it Ready, and heartbeat through its
// Lease in kube-node-lease every 10 s (the node-lifecycle controller marks a node NotReady ~50 s
// after the last one), with the status itself refreshed every minute.
import type { KubernetesClient, Lease, Node } from "../../wire/kubernetes.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import { KUBERNETES_VERSION } from "./binaries.ts";

export interface KubeNodeInfo {
  name: string;
  /** The node's underlay address. */
  ip: string;
  /** 10.244.<k+1>.0/24: where the lab's pod runtime allocates this node's pod addresses. */
  podCIDR: string;
}

export interface NodeAgent {
  /** Registers every node and marks it Ready; then heartbeats until stop(). */
  start(): Promise<void>;
  stop(): void;
}

const LEASE_SECONDS = 40;
const HEARTBEAT_MS = 10_000;
const STATUS_EVERY = 6;

const nowMicro = () => new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
const nowSeconds = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function nodeStatus(n: KubeNodeInfo, since: string): Node["status"] {
  const now = nowSeconds();
  const cond = (type: string, status: "True" | "False", reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: since });
  const resources = { cpu: "4", memory: "8Gi", pods: "110", "ephemeral-storage": "20Gi" };
  return {
    conditions: [
      cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "the lab has no memory limits"),
      cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "the lab has no disk limits"),
      cond("PIDPressure", "False", "KubeletHasSufficientPID", "the lab has no PID limits"),
      cond("Ready", "True", "KubeletReady", "the tfmesh lab is posting ready status"),
    ],
    addresses: [
      { type: "InternalIP", address: n.ip },
      { type: "Hostname", address: n.name },
    ],
    capacity: resources,
    allocatable: resources,
    nodeInfo: {
      machineID: "",
      systemUUID: "",
      bootID: "",
      kernelVersion: "",
      osImage: "tfmesh lab",
      containerRuntimeVersion: "tfmesh-lab://netns",
      kubeletVersion: KUBERNETES_VERSION,
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: process.arch === "x64" ? "amd64" : process.arch,
    },
  };
}

export function createNodeAgent(client: KubernetesClient, nodes: KubeNodeInfo[], log: (line: string) => void): NodeAgent {
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;
  const since = nowSeconds();
  const uids = new Map<string, string>();

  const register = async (n: KubeNodeInfo): Promise<void> => {
    const path = resourcePath("v1", "nodes", undefined, n.name);
    let node = await client.get<Node>(path);
    if (!node) {
      node = await client.create<Node>(resourcePath("v1", "nodes"), {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: n.name,
          labels: { "kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "tfmesh.io/lab-node": "true" },
        },
        spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
      });
      log(`registered node ${n.name} (${n.ip}, pods ${n.podCIDR})`);
    } else if (node.spec.podCIDR !== undefined && node.spec.podCIDR !== n.podCIDR) {
      log(`node ${n.name} has podCIDR ${node.spec.podCIDR}, the lab allocates ${n.podCIDR}: delete the Node to re-register it`);
    }
    uids.set(n.name, node.metadata.uid ?? "");
    await client.patch(resourcePath("v1", "nodes", undefined, n.name, "status"), { status: nodeStatus(n, since) }, "strategic");
  };

  const renewLease = async (n: KubeNodeInfo): Promise<void> => {
    const leases = resourcePath("coordination.k8s.io/v1", "leases", "kube-node-lease");
    const renewTime = nowMicro();
    const patched = await client.patch<Lease>(`${leases}/${n.name}`, { spec: { renewTime, holderIdentity: n.name, leaseDurationSeconds: LEASE_SECONDS } });
    if (patched) return;
    await client.create<Lease>(leases, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: n.name, namespace: "kube-node-lease", ownerReferences: [{ apiVersion: "v1", kind: "Node", name: n.name, uid: uids.get(n.name) ?? "" }] },
      spec: { holderIdentity: n.name, leaseDurationSeconds: LEASE_SECONDS, renewTime, acquireTime: renewTime },
    });
  };

  const beat = async () => {
    ticks++;
    await Promise.all(
      nodes.map(async (n) => {
        try {
          // A Node deleted behind the lab's back comes back, as with a kubelet.
          if (ticks % STATUS_EVERY === 0 || !uids.get(n.name)) await register(n);
          await renewLease(n);
        } catch (e) {
          uids.delete(n.name);
          log(`heartbeat of node ${n.name}: ${(e as Error).message}`);
        }
      }),
    );
  };

  return {
    async start() {
      for (const n of nodes) {
        await register(n);
        await renewLease(n);
      }
      const loop = () => {
        timer = setTimeout(() => void beat().finally(() => timer !== undefined && loop()), HEARTBEAT_MS);
      };
      loop();
    },
    stop() {
      const t = timer;
      timer = undefined;
      if (t) clearTimeout(t);
    },
  };
}
