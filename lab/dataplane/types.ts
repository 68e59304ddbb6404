// The data plane's contracts with the rest of the lab (docs/contracts.md, "Daemon composition").

export interface VmPort {
  vmiUuid: string;
  vnUuid: string;
  networkId: number;
  mac: string;
  ip: string;
  prefixLength: number;
  gateway: string;
}

export interface VmSpec {
  serverId: string;
  name: string;
  node: string;
  ports: VmPort[];
}

export interface VmRuntime {
  /** Creates (or repairs) the VM's namespace and ports and plugs them into the node's agent. Idempotent. */
  bootVm(vm: VmSpec): Promise<void>;
  /** Unplugs and removes everything of the VM; unknown VMs are fine. */
  deleteVm(serverId: string): Promise<void>;
}

export interface PodSpec {
  name: string;
  uid: string;
  node: string;
}

export interface PodEth0 {
  ip: string;
  prefixLength: number;
  mac: string;
}

export interface PodRuntime {
  createPod(p: PodSpec): Promise<{ netns: string; eth0: PodEth0 }>;
  deletePod(name: string): Promise<void>;
  /** The pods the runtime holds (its own table), so its owner can remove those it has no record of. */
  listPods?(): string[];
}

/** The lab nodes as lab/instance.ts numbers them (computeNodes then k8sNodes). */
export interface NodeInfo {
  name: string;
  kind: "compute" | "k8s";
  index: number;
  ip: string;
}

/**
 * Runs kernel work after all work queued before it: plug, unplug, boot and reconcile all read the
 * kernel, plan, and write, and two of those interleaved would plan against stale reads.
 */
export type KernelTurn = <T>(work: () => Promise<T>) => Promise<T>;
