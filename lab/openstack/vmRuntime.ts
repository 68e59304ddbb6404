// The data plane's VM runtime as Nova sees it (docs/architecture.md, "Daemon composition"). The
// dataplane implements it; structural typing keeps the two in step without an import cycle.

export interface VmPort {
  vmiUuid: string;
  vnUuid: string;
  networkId: number;
  mac: string;
  ip: string;
  prefixLength: number;
  gateway: string;
}

export interface VmRuntime {
  /** Idempotent: builds (or rebuilds) the VM's namespace and ports on `node`. */
  bootVm(vm: { serverId: string; name: string; node: string; ports: VmPort[] }): Promise<void>;
  /** Idempotent: removes everything of the VM. */
  deleteVm(serverId: string): Promise<void>;
}
