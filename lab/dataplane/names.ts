// Every kernel name and number the data plane uses, in one place (docs/contracts.md, "Kernel layout").
import { createHash } from "node:crypto";

/** The distributed gateway's MAC, the same on every node (so a moved endpoint keeps its ARP entry). */
export const GATEWAY_MAC = "00:00:5e:00:01:00";
export const UNDERLAY_CIDR = "172.31.0.0/24";
export const UNDERLAY_PLEN = 24;
/** Room for the 50-byte VXLAN header so overlay interfaces keep an MTU of 1500. */
export const UNDERLAY_MTU = 1600;
export const OVERLAY_MTU = 1500;
export const VN_VXLAN_PORT = 4789;
export const POD_VXLAN_PORT = 8472;
export const POD_VNI = 1;
export const POD_BRIDGE = "cni0";
export const POD_VXLAN = "podvx";
export const POD_PLEN = 16;
export const UNDERLAY_BRIDGE = "br0";
export const UNDERLAY_IF = "ul0";
/** Policy-routing rule priorities of the per-VN tables; the local table moves behind them. */
export const VN_IIF_RULE_PREF = 100;
export const VN_GATEWAY_RULE_PREF = 101;
export const LOCAL_RULE_PREF = 32765;
/** VN tables are VN_TABLE_BASE + network id. */
export const VN_TABLE_BASE = 1000;

export const underlayNetns = (prefix: string) => `${prefix}-underlay`;
export const nodeNetns = (prefix: string, node: string) => `${prefix}-${node}`;
export const vmNetns = (prefix: string, serverId: string) => `${prefix}-vm-${hex(serverId).slice(0, 8)}`;
export const podNetns = (prefix: string, pod: string) => `${prefix}-pod-${pod}`;
export const switchPort = (node: string) => `u-${node}`;
export const vnBridge = (networkId: number) => `vn${networkId}`;
export const vnVxlan = (networkId: number) => `vx${networkId}`;
export const vnTable = (networkId: number) => VN_TABLE_BASE + networkId;
/** Host end of a pod's eth0 in its node. */
export const podHostIf = (pod: string) => `veth${createHash("sha256").update(pod).digest("hex").slice(0, 8)}`;
export const vmIf = (index: number) => `eth${index}`;

const VN_BRIDGE_RE = /^vn(\d+)$/;
export function networkIdOfBridge(ifname: string): number | undefined {
  const m = VN_BRIDGE_RE.exec(ifname);
  return m ? Number(m[1]) : undefined;
}

function hex(uuid: string): string {
  return uuid.toLowerCase().replace(/[^0-9a-f]/g, "");
}

/** The pod subnet node k (position among the k8s nodes) allocates from: 10.244.<k+1>.0/24. */
function podNodeOctet(k8sIndex: number): number {
  return k8sIndex + 1;
}
export const podGateway = (k8sIndex: number) => `10.244.${podNodeOctet(k8sIndex)}.1`;
export const podAddress = (k8sIndex: number, host: number) => `10.244.${podNodeOctet(k8sIndex)}.${host}`;
/** Pod MACs derive from the address, as the CNI bridge plugin does: 0a:58 + the IPv4 bytes. */
export function podMac(ip: string): string {
  return ["0a", "58", ...ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0"))].join(":");
}
