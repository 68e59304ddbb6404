// Client of the vRouter agent's port API (one agent per compute node, default port 9091), the
// interface through which TF's CNI and Nova's vif driver plug ports. Wire format in
// shared/reference/tungsten-fabric.md section 2.
import { HttpClient, orUndefinedOn404 } from "../lib/http/client.ts";
import { definedOnly } from "./tf.ts";

/**
 * The host end of a VM or pod port, as Nova's vif driver and TF's CNI name it: "tap" + the first
 * 11 hex digits of the VMI uuid. It is the port's `system-name`.
 */
export const tapName = (vmiUuid: string): string => `tap${vmiUuid.toLowerCase().replace(/[^0-9a-f]/g, "").slice(0, 11)}`;

/** Port type 0: a VM port (vn-id required); 1: a namespace port. */
export type AgentPortType = 0 | 1;

/** Body of POST /port (field names as on the wire). */
export interface AgentPort {
  /** VMI uuid */
  id: string;
  /** VM uuid */
  "instance-id": string;
  "ip-address": string;
  "ip6-address": string;
  /** VN uuid */
  "vn-id": string;
  "display-name": string;
  "vm-project-id": string;
  /** xx:xx:xx:xx:xx:xx */
  "mac-address": string;
  /** The host-side interface, e.g. "tap1a2b3c4d-5e". */
  "system-name": string;
  type: AgentPortType;
  "rx-vlan-id": number;
  "tx-vlan-id": number;
  author?: string;
  time?: string;
}

/** GET /port/<uuid>: the plug request plus what the agent learnt from config. */
export interface AgentPortState extends Partial<AgentPort> {
  id: string;
  plen?: number;
  gateway?: string;
  "dns-server"?: string;
  [field: string]: unknown;
}

export interface VrouterAgentClientOptions {
  /** e.g. "http://127.0.0.1:9093" */
  baseUrl: string;
  timeoutMs?: number;
  retries?: number;
  unreachableHint?: string;
}

/** Fills the fields every plug request carries the same way (no IPv6, no VLANs, a timestamp). */
export function agentPort(
  p: Omit<AgentPort, "ip6-address" | "rx-vlan-id" | "tx-vlan-id" | "type" | "time"> & Partial<AgentPort>,
): AgentPort {
  return { "ip6-address": "", type: 0, "rx-vlan-id": -1, "tx-vlan-id": -1, time: new Date().toISOString(), ...p };
}

export class VrouterAgentClient {
  readonly http: HttpClient;

  constructor(opts: VrouterAgentClientOptions) {
    this.http = new HttpClient({
      ...definedOnly({ timeoutMs: opts.timeoutMs, retries: opts.retries, unreachableHint: opts.unreachableHint }),
      baseUrl: opts.baseUrl,
    });
  }

  /** POST /port: plugs one port, or several all-or-nothing. Plugging a known port again updates it. */
  async addPort(port: AgentPort | AgentPort[]): Promise<void> {
    // A repeated plug of the same port is an update, so retrying after a lost answer is safe.
    await this.http.post("/port", port, { retryPost: true });
  }

  /** GET /port/<uuid>: the live port, or undefined while the agent does not know it. */
  async getPort(vmiUuid: string): Promise<AgentPortState | undefined> {
    return (await orUndefinedOn404(this.http.get<AgentPortState>(`/port/${vmiUuid.toLowerCase()}`)))?.body;
  }

  /** DELETE /port/<uuid>: unplugs; an unknown port is fine. */
  async deletePort(vmiUuid: string): Promise<void> {
    await this.http.delete(`/port/${vmiUuid.toLowerCase()}`);
  }
}
