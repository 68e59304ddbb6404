// Nova: the server calls a VM lifecycle needs (microversion negotiated once), flavors, interface
// attachments, and waiting for a status with progress.
import { HttpClient, orUndefinedOn404 } from "../../lib/http/client.ts";
import type { HttpResponse, RequestOptions } from "../../lib/http/client.ts";
import { AuthedService } from "./keystone.ts";
import type { ClientOptions, KeystoneSession } from "./keystone.ts";

export interface NovaAddress {
  addr: string;
  version: number;
  "OS-EXT-IPS:type"?: string;
  "OS-EXT-IPS-MAC:mac_addr"?: string;
}

/** A server Nova still lists but that is deleted (or soft-deleted, waiting to be reclaimed). */
export const isGone = (server: Pick<NovaServer, "status">): boolean => server.status === "DELETED" || server.status === "SOFT_DELETED";

export interface NovaServer {
  id: string;
  name: string;
  status: string;
  progress?: number;
  addresses?: Record<string, NovaAddress[]>;
  "OS-EXT-SRV-ATTR:host"?: string | null;
  "OS-EXT-STS:task_state"?: string | null;
  flavor?: { id?: string; original_name?: string };
  image?: { id?: string } | "";
  fault?: { message?: string; code?: number };
  metadata?: Record<string, string>;
}

export interface NovaFlavor {
  id: string;
  name: string;
  vcpus?: number;
  ram?: number;
  disk?: number;
}

export interface ServerNetwork {
  uuid?: string;
  port?: string;
  fixed_ip?: string;
}

export interface CreateServerRequest {
  name: string;
  imageRef: string;
  flavorRef: string;
  networks: ServerNetwork[];
  /** Compute host to place the server on (admin), sent as availability_zone "nova:<host>". */
  host?: string;
  metadata?: Record<string, string>;
}

export interface InterfaceAttachment {
  port_id: string;
  net_id: string;
  mac_addr: string;
  port_state?: string;
  fixed_ips: Array<{ subnet_id?: string; ip_address: string }>;
}

// The newest microversion whose response shapes this client has been written for.
const NOVA_PREFERRED = [2, 79] as const;

function parseMicroversion(v: string | undefined): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(v ?? "");
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const atLeast = (v: readonly [number, number], major: number, minor: number) => v[0] > major || (v[0] === major && v[1] >= minor);

export interface WaitOptions {
  timeoutMs?: number;
  /** Longest pause between polls; polling starts at a tenth of it and backs off. */
  intervalMs?: number;
  onProgress?: (server: NovaServer) => void;
}

// Short first polls catch a quick boot early; the pause then grows to intervalMs.
function pollPauses(intervalMs: number): () => Promise<void> {
  let pause = Math.max(1, Math.floor(intervalMs / 10));
  return async () => {
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(intervalMs, pause * 2);
  };
}

export class NovaClient {
  private readonly svc: AuthedService;
  private readonly opts: ClientOptions;
  private version: [number, number] | undefined;
  private versionPending: Promise<[number, number]> | undefined;

  constructor(session: KeystoneSession, opts: ClientOptions = {}) {
    this.opts = opts;
    this.svc = new AuthedService(session, () => session.endpoint("compute"), opts, () => this.versionHeaders());
  }

  /** Negotiates the microversion once: the newest both this client and the server speak. */
  async microversion(): Promise<[number, number]> {
    if (this.version) return this.version;
    this.versionPending ??= (async () => {
      const base = await this.svc.baseUrl();
      const res = await new HttpClient({ baseUrl: base, ...this.opts }).get<{ version?: { version?: string } }>("/");
      const max = parseMicroversion(res.body?.version?.version);
      if (!max) return [2, 1] as [number, number];
      return atLeast(max, NOVA_PREFERRED[0], NOVA_PREFERRED[1]) ? [NOVA_PREFERRED[0], NOVA_PREFERRED[1]] : max;
    })();
    this.version = await this.versionPending;
    return this.version;
  }

  private versionHeaders(): Record<string, string> {
    if (!this.version) return {};
    const v = `${this.version[0]}.${this.version[1]}`;
    return { "openstack-api-version": `compute ${v}`, "x-openstack-nova-api-version": v };
  }

  private async call<T>(method: string, path: string, ro?: RequestOptions): Promise<HttpResponse<T>> {
    await this.microversion();
    return this.svc.request<T>(method, path, ro);
  }

  async getServer(id: string): Promise<NovaServer | undefined> {
    const res = await orUndefinedOn404(this.call<{ server: NovaServer }>("GET", `/servers/${encodeURIComponent(id)}`));
    return res?.body.server;
  }

  async listServers(query: { name?: string } = {}): Promise<NovaServer[]> {
    const res = await this.call<{ servers: NovaServer[] }>("GET", "/servers/detail", { query });
    return res.body.servers ?? [];
  }

  /** Servers under exactly this name (Nova's name filter matches substrings), gone ones left out. */
  async serversNamed(name: string): Promise<NovaServer[]> {
    return (await this.listServers({ name })).filter((s) => s.name === name && !isGone(s));
  }

  async createServer(req: CreateServerRequest): Promise<{ id: string; adminPass?: string }> {
    const server: Record<string, unknown> = {
      name: req.name,
      imageRef: req.imageRef,
      flavorRef: req.flavorRef,
      networks: req.networks,
    };
    if (req.metadata) server.metadata = req.metadata;
    // "nova:<host>" pins the host in every microversion (2.74's `host` field is not served everywhere).
    if (req.host) server.availability_zone = `nova:${req.host}`;
    const res = await this.call<{ server: { id: string; adminPass?: string } }>("POST", "/servers", { body: { server }, expect: [200, 202] });
    return res.body.server;
  }

  /** PUT /servers/{id}/metadata/{key}: sets one metadata item, leaving the others. */
  async setServerMetadataItem(id: string, key: string, value: string): Promise<void> {
    await this.call("PUT", `/servers/${encodeURIComponent(id)}/metadata/${encodeURIComponent(key)}`, { body: { meta: { [key]: value } } });
  }

  /** POST /servers/{id}/action reboot: HARD also plugs the server's ports again (the VIF driver's plug on power-on). */
  async rebootServer(id: string, type: "SOFT" | "HARD"): Promise<void> {
    await this.call("POST", `/servers/${encodeURIComponent(id)}/action`, { body: { reboot: { type } }, expect: [202] });
  }

  async renameServer(id: string, name: string): Promise<void> {
    await this.call("PUT", `/servers/${encodeURIComponent(id)}`, { body: { server: { name } } });
  }

  /** Deletes the server; a server that is already gone counts as deleted. */
  async deleteServer(id: string): Promise<void> {
    await orUndefinedOn404(this.call("DELETE", `/servers/${encodeURIComponent(id)}`, { expect: [200, 202, 204] }));
  }

  /** Polls until the server reaches `status`; ERROR (or disappearing) fails with the fault. */
  async waitForStatus(id: string, status: string, wo: WaitOptions = {}): Promise<NovaServer> {
    const deadline = Date.now() + (wo.timeoutMs ?? 300_000);
    const pause = pollPauses(wo.intervalMs ?? 2000);
    for (;;) {
      const server = await this.getServer(id);
      if (!server) throw new Error(`server ${id} disappeared while waiting for ${status}`);
      wo.onProgress?.(server);
      if (server.status === status) return server;
      if (server.status === "ERROR") {
        throw new Error(`server ${server.name} (${id}) went to ERROR${server.fault?.message ? `: ${server.fault.message}` : ""}`);
      }
      if (Date.now() > deadline) throw new Error(`server ${server.name} (${id}) still ${server.status} after ${wo.timeoutMs ?? 300_000} ms, expected ${status}`);
      await pause();
    }
  }

  /** Polls until GET answers 404, which is how Nova says a delete finished. */
  async waitForDeleted(id: string, wo: WaitOptions = {}): Promise<void> {
    const deadline = Date.now() + (wo.timeoutMs ?? 300_000);
    const pause = pollPauses(wo.intervalMs ?? 2000);
    for (;;) {
      const server = await this.getServer(id);
      if (!server) return;
      if (server.status === "ERROR" && !server["OS-EXT-STS:task_state"]) {
        throw new Error(`server ${server.name} (${id}) went to ERROR while deleting${server.fault?.message ? `: ${server.fault.message}` : ""}`);
      }
      if (Date.now() > deadline) throw new Error(`server ${server.name} (${id}) still exists ${wo.timeoutMs ?? 300_000} ms after delete`);
      await pause();
    }
  }

  /** Finds a flavor by id, else by exact name (GET by name 404s, so the list is searched). */
  async findFlavor(idOrName: string): Promise<NovaFlavor | undefined> {
    const direct = await orUndefinedOn404(this.call<{ flavor: NovaFlavor }>("GET", `/flavors/${encodeURIComponent(idOrName)}`));
    if (direct) return direct.body.flavor;
    const res = await this.call<{ flavors: NovaFlavor[] }>("GET", "/flavors/detail", { query: { is_public: "None" } });
    return (res.body.flavors ?? []).find((f) => f.name === idOrName);
  }

  async listInterfaces(serverId: string): Promise<InterfaceAttachment[]> {
    const res = await this.call<{ interfaceAttachments: InterfaceAttachment[] }>("GET", `/servers/${encodeURIComponent(serverId)}/os-interface`);
    return res.body.interfaceAttachments ?? [];
  }

  async attachInterface(serverId: string, net: { netId: string; fixedIp?: string }): Promise<InterfaceAttachment> {
    const interfaceAttachment: Record<string, unknown> = { net_id: net.netId };
    if (net.fixedIp) interfaceAttachment.fixed_ips = [{ ip_address: net.fixedIp }];
    const res = await this.call<{ interfaceAttachment: InterfaceAttachment }>("POST", `/servers/${encodeURIComponent(serverId)}/os-interface`, {
      body: { interfaceAttachment },
    });
    return res.body.interfaceAttachment;
  }

  async detachInterface(serverId: string, portId: string): Promise<void> {
    await orUndefinedOn404(this.call("DELETE", `/servers/${encodeURIComponent(serverId)}/os-interface/${encodeURIComponent(portId)}`, { expect: [200, 202, 204] }));
  }
}
