// The VM runtime, nova-compute's part: the VM's namespace and interfaces (lab/dataplane), then its
// ports plugged into its node's vRouter agent the way nova-compute's VIF driver does it. The VM is
// kept in the data plane's state, so a restart builds it again.
import { deleteLink, netns } from "../../lib/kernel/index.ts";
import { isIpv4 } from "../../lib/ipv4.ts";
import { checkMac } from "../../lib/validate/mac.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import { tapName } from "../../wire/vrouterAgent.ts";
import { announceFromGuest } from "../dataplane/announce.ts";
import { nodeNetns, vmIf, vmNetns } from "../dataplane/names.ts";
import type { DataplaneState } from "../dataplane/state.ts";
import type { KernelTurn, NodeInfo, VmPort, VmRuntime, VmSpec } from "../dataplane/types.ts";
import { realizeVmNamespace } from "../dataplane/vmNamespace.ts";
import type { VRouterAgents } from "../vrouter/agents.ts";
import { parsePortRequest } from "../vrouter/portRequest.ts";

export class VmSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmSpecError";
  }
}

export interface VmRuntimeDeps {
  prefix: string;
  nodes: Map<string, NodeInfo>;
  state: DataplaneState;
  agents: VRouterAgents;
  inTurn: KernelTurn;
  log?: (line: string) => void;
}

export class LabVmRuntime implements VmRuntime {
  private readonly d: VmRuntimeDeps;

  constructor(deps: VmRuntimeDeps) {
    this.d = deps;
  }

  bootVm(vm: VmSpec): Promise<void> {
    return this.d.inTurn(() => this.bootNow(vm));
  }

  deleteVm(serverId: string): Promise<void> {
    return this.d.inTurn(() => this.deleteNow(serverId));
  }

  private async bootNow(vm: VmSpec): Promise<void> {
    this.check(vm);
    const old = this.d.state.getVm(vm.serverId);
    if (old && old.node !== vm.node) await this.deleteNow(vm.serverId);
    else if (old) {
      const keep = new Set(vm.ports.map((p) => p.vmiUuid));
      for (const p of old.ports.filter((x) => !keep.has(x.vmiUuid))) await this.removePort(old.node, p);
    }
    this.d.state.saveVm(vm);
    await realizeVmNamespace(this.d.prefix, vm);
    await this.d.agents.plugNow(vm.node, vm.ports.map((p) => portRequest(vm, p)));
    // The guest brings its interfaces up once they are plugged and announces its addresses, so a
    // peer that knew an earlier owner of an address (with another MAC) switches at once.
    for (const [i, p] of vm.ports.entries()) {
      if (this.d.agents.ports.get(p.vmiUuid)?.active) announceFromGuest(vmNetns(this.d.prefix, vm.serverId), vmIf(i), p.ip, this.d.log ?? (() => {}));
    }
  }

  /**
   * At start (caller runs in its kernel turn), as nova-compute's init_host plugs the VIFs of every
   * instance it hosts: rebuilds the VM's namespace and plugs again each of its ports the node's
   * agent no longer carries (unplugged behind Nova's back, or lost with the agent's table).
   */
  async restoreNow(vm: VmSpec): Promise<void> {
    await realizeVmNamespace(this.d.prefix, vm);
    const missing = vm.ports.filter((p) => this.d.agents.ports.get(p.vmiUuid)?.node !== vm.node);
    if (missing.length === 0) return;
    this.d.log?.(`VM ${vm.serverId}: plugging again ${missing.map((p) => p.vmiUuid).join(", ")}, which the agent of ${vm.node} no longer carries`);
    await this.d.agents.plugNow(vm.node, missing.map((p) => portRequest(vm, p)));
  }

  private async deleteNow(serverId: string): Promise<void> {
    const vm = this.d.state.getVm(serverId);
    if (vm) for (const p of vm.ports) await this.removePort(vm.node, p);
    await netns.del(vmNetns(this.d.prefix, serverId));
    this.d.state.deleteVm(serverId);
  }

  private async removePort(node: string, p: VmPort): Promise<void> {
    await this.d.agents.unplugNow(node, p.vmiUuid);
    await deleteLink(tapName(p.vmiUuid), nodeNetns(this.d.prefix, node));
  }

  private check(vm: VmSpec): void {
    if (!isUuid(vm.serverId)) throw new VmSpecError(`server id must be a uuid, got ${JSON.stringify(vm.serverId)}`);
    if (!this.d.nodes.has(vm.node)) throw new VmSpecError(`no node ${JSON.stringify(vm.node)} in this lab`);
    for (const p of vm.ports) {
      const where = `VM ${vm.serverId} port ${p.vmiUuid}`;
      if (!isUuid(p.vmiUuid)) throw new VmSpecError(`${where}: VMI id must be a uuid`);
      const macProblem = checkMac(p.mac);
      if (macProblem) throw new VmSpecError(`${where}: ${macProblem}`);
      if (!isIpv4(p.ip) || !Number.isInteger(p.prefixLength) || p.prefixLength < 1 || p.prefixLength > 32) {
        throw new VmSpecError(`${where}: address ${p.ip}/${p.prefixLength} is not an IPv4 address with prefix length`);
      }
      if (!isIpv4(p.gateway)) throw new VmSpecError(`${where}: gateway ${JSON.stringify(p.gateway)} is not an IPv4 address`);
    }
  }
}

function portRequest(vm: VmSpec, p: VmPort) {
  return parsePortRequest({
    id: p.vmiUuid,
    "instance-id": vm.serverId,
    "ip-address": p.ip,
    "ip6-address": "",
    "vn-id": p.vnUuid,
    "display-name": vm.name,
    "vm-project-id": "",
    "mac-address": p.mac,
    "system-name": tapName(p.vmiUuid),
    type: 0,
    "rx-vlan-id": -1,
    "tx-vlan-id": -1,
    author: "lab-nova-compute",
    time: new Date().toISOString(),
  });
}
