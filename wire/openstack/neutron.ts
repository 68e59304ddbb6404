// Neutron: networks (a TF virtual network when TF is the backend), subnets and ports.
import { orUndefinedOn404 } from "../../lib/http/client.ts";
import { looksLikeUuid } from "../../lib/validate/uuid.ts";
import { AuthedService } from "./keystone.ts";
import type { ClientOptions, KeystoneSession } from "./keystone.ts";

export interface NeutronNetwork {
  id: string;
  name: string;
  status?: string;
  subnets?: string[];
  project_id?: string;
}

export interface NeutronSubnet {
  id: string;
  name?: string;
  network_id: string;
  cidr: string;
  gateway_ip?: string | null;
  allocation_pools?: Array<{ start: string; end: string }>;
}

export interface NeutronPort {
  id: string;
  network_id: string;
  mac_address: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  device_id?: string;
  device_owner?: string;
  status?: string;
  "binding:host_id"?: string;
}

export class NeutronClient {
  private readonly svc: AuthedService;

  constructor(session: KeystoneSession, opts: ClientOptions = {}) {
    // The catalog lists the Neutron root; the API lives under /v2.0.
    this.svc = new AuthedService(session, async () => `${(await session.endpoint("network")).replace(/\/v2\.0$/, "")}/v2.0`, opts);
  }

  async getNetwork(id: string): Promise<NeutronNetwork | undefined> {
    const res = await orUndefinedOn404(this.svc.request<{ network: NeutronNetwork }>("GET", `/networks/${encodeURIComponent(id)}`));
    return res?.body.network;
  }

  async listNetworks(query: { name?: string; id?: string } = {}): Promise<NeutronNetwork[]> {
    const res = await this.svc.request<{ networks: NeutronNetwork[] }>("GET", "/networks", { query });
    return res.body.networks ?? [];
  }

  /** A network by uuid or by unique name; a name that matches several networks is an error. */
  async findNetwork(idOrName: string): Promise<NeutronNetwork | undefined> {
    if (looksLikeUuid(idOrName)) {
      const byId = await this.getNetwork(idOrName);
      if (byId) return byId;
    }
    const byName = await this.listNetworks({ name: idOrName });
    if (byName.length > 1) {
      throw new Error(`network name "${idOrName}" is ambiguous: ${byName.map((n) => n.id).join(", ")}; use the network uuid`);
    }
    return byName[0];
  }

  async getSubnet(id: string): Promise<NeutronSubnet | undefined> {
    const res = await orUndefinedOn404(this.svc.request<{ subnet: NeutronSubnet }>("GET", `/subnets/${encodeURIComponent(id)}`));
    return res?.body.subnet;
  }

  async listPorts(query: { device_id?: string; network_id?: string } = {}): Promise<NeutronPort[]> {
    const res = await this.svc.request<{ ports: NeutronPort[] }>("GET", "/ports", { query });
    return res.body.ports ?? [];
  }

  async getPort(id: string): Promise<NeutronPort | undefined> {
    const res = await orUndefinedOn404(this.svc.request<{ port: NeutronPort }>("GET", `/ports/${encodeURIComponent(id)}`));
    return res?.body.port;
  }

  /** Deletes a port; one that is already gone counts as deleted. */
  async deletePort(id: string): Promise<void> {
    await orUndefinedOn404(this.svc.request("DELETE", `/ports/${encodeURIComponent(id)}`, { expect: [200, 204] }));
  }
}
