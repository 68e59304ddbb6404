// The data plane's contracts with the rest of the lab (docs/architecture.md, "Daemon composition").

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
}

export interface IfaceDescription {
  name: string;
  mac: string;
  /** "10.1.1.3/24" */
  addresses: string[];
  /** "pod" or the VN's fq_name string. */
  network?: string;
  networkId?: number;
}

export interface DataplaneDescription {
  underlay: { netns: string; cidr: string };
  nodes: Array<{
    name: string;
    kind: "compute" | "k8s";
    netns: string;
    underlayIp: string;
    networks: Array<{
      networkId: number;
      vnUuid?: string;
      fqName?: string;
      bridge: string;
      vxlan: string;
      /** "10.1.1.254/24" */
      gateways: string[];
      /** tap names */
      ports: string[];
    }>;
    vms: Array<{ serverId: string; name?: string; netns: string; interfaces: IfaceDescription[] }>;
    pods: Array<{ name: string; netns: string; interfaces: IfaceDescription[] }>;
    /**
     * The node's vRouter agent port table: every port plugged with POST /port and not yet
     * unplugged, active (config and interface present) or not. TF's port API has no list call, so
     * this is where a leftover port shows.
     */
    vrouterPorts?: Array<{ id: string; systemName: string; active: boolean }>;
  }>;
}

/** The lab nodes as lab/instance.ts numbers them (computeNodes then k8sNodes). */
export interface NodeInfo {
  name: string;
  kind: "compute" | "k8s";
  index: number;
  ip: string;
}
