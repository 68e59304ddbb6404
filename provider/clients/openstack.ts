// OpenStack client: Keystone v3 password auth (token cached until shortly before it expires,
// re-authenticated once on a 401), service URLs from the token's catalog, and the Nova, Neutron
// and Glance calls a VM lifecycle needs. Wire shapes: shared/reference/openstack.md.
import { HttpClient, isStatus, orUndefinedOn404 } from "../../lib/http/client.ts";
import type { HttpResponse, RequestOptions } from "../../lib/http/client.ts";
import type { OpenStackSettings } from "../config.ts";

export interface ClientOptions {
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
  unreachableHint?: string;
}

interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: Array<{ interface: string; region?: string; region_id?: string; url: string }>;
}

interface CachedToken {
  value: string;
  expiresAt: number;
  catalog: CatalogEntry[];
  projectId: string | undefined;
}

// A token is refreshed this long before Keystone says it expires, so a long wait for a VM
// never sends a token that dies mid-request.
const TOKEN_EARLY_REFRESH_MS = 60_000;

/** Keystone v3 session: one token per set of credentials, fetched on first use. */
export class KeystoneSession {
  readonly authUrl: string;
  private readonly settings: OpenStackSettings;
  private readonly http: HttpClient;
  private cached: CachedToken | undefined;
  private pending: Promise<CachedToken> | undefined;

  constructor(settings: OpenStackSettings, opts: ClientOptions = {}) {
    this.settings = settings;
    // Users give OS_AUTH_URL with or without the version; the token API lives under /v3.
    const base = settings.authUrl.replace(/\/+$/, "");
    this.authUrl = /\/v3$/.test(base) ? base : `${base}/v3`;
    this.http = new HttpClient({ baseUrl: this.authUrl, ...opts });
  }

  async token(): Promise<string> {
    return (await this.current()).value;
  }

  async projectId(): Promise<string | undefined> {
    return (await this.current()).projectId;
  }

  /** Forgets a token the server refused, so the next call authenticates again. */
  invalidate(token: string): void {
    if (this.cached?.value === token) this.cached = undefined;
  }

  /** The URL of a service from the catalog ("compute", "network", "image"), public interface. */
  async endpoint(type: string): Promise<string> {
    const { catalog } = await this.current();
    const entry = catalog.find((c) => c.type === type);
    const region = this.settings.region;
    const ep = entry?.endpoints.find(
      (e) => e.interface === "public" && (!region || e.region === region || e.region_id === region),
    );
    if (!ep) {
      const where = region ? ` in region ${region}` : "";
      throw new Error(`Keystone at ${this.authUrl} lists no public ${type} endpoint${where} in its catalog`);
    }
    return ep.url.replace(/\/+$/, "");
  }

  private async current(): Promise<CachedToken> {
    if (this.cached && this.cached.expiresAt - TOKEN_EARLY_REFRESH_MS > Date.now()) return this.cached;
    // One authentication at a time: parallel resource operations share the token.
    this.pending ??= this.authenticate().finally(() => (this.pending = undefined));
    this.cached = await this.pending;
    return this.cached;
  }

  private async authenticate(): Promise<CachedToken> {
    const s = this.settings;
    if (!s.password) {
      throw new Error(
        `no OpenStack password for user ${s.userName} at ${this.authUrl}: set it with ` +
          "`pulumi config set --secret openstack:password ...` or OS_PASSWORD, or start the lab (`npx tfmesh lab up`), which publishes its credentials",
      );
    }
    const body = {
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: s.userName, domain: { name: s.userDomainName }, password: s.password } },
        },
        scope: { project: { name: s.tenantName, domain: { name: s.projectDomainName } } },
      },
    };
    const res = await this.http.post<{ token?: { expires_at?: string; catalog?: CatalogEntry[]; project?: { id?: string } } }>(
      "/auth/tokens",
      body,
      { expect: [200, 201], retryPost: true },
    );
    const value = res.headers["x-subject-token"];
    if (!value) throw new Error(`POST ${this.authUrl}/auth/tokens answered without an X-Subject-Token header`);
    const expires = Date.parse(res.body?.token?.expires_at ?? "");
    return {
      value,
      expiresAt: Number.isFinite(expires) ? expires : Date.now() + 3600_000,
      catalog: res.body?.token?.catalog ?? [],
      projectId: res.body?.token?.project?.id,
    };
  }
}

/** A service client that sends the session's token and re-authenticates once on 401. */
export class AuthedService {
  private readonly session: KeystoneSession;
  private readonly resolveBase: () => Promise<string>;
  private readonly opts: ClientOptions;
  private readonly extraHeaders: () => Record<string, string>;
  private http: HttpClient | undefined;

  constructor(session: KeystoneSession, resolveBase: () => Promise<string>, opts: ClientOptions, extraHeaders: () => Record<string, string> = () => ({})) {
    this.session = session;
    this.resolveBase = resolveBase;
    this.opts = opts;
    this.extraHeaders = extraHeaders;
  }

  async baseUrl(): Promise<string> {
    return (await this.client()).baseUrl;
  }

  async request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<HttpResponse<T>> {
    const http = await this.client();
    const token = await this.session.token();
    const headers = { ...this.extraHeaders(), ...ro.headers };
    try {
      return await http.request<T>(method, path, { ...ro, headers: { ...headers, "x-auth-token": token } });
    } catch (err) {
      if (!isStatus(err, 401)) throw err;
      this.session.invalidate(token);
      const fresh = await this.session.token();
      return await http.request<T>(method, path, { ...ro, headers: { ...headers, "x-auth-token": fresh } });
    }
  }

  private async client(): Promise<HttpClient> {
    this.http ??= new HttpClient({ baseUrl: await this.resolveBase(), ...this.opts });
    return this.http;
  }
}


const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
export const looksLikeUuid = (s: string): boolean => UUID_RE.test(s);

// ---------------------------------------------------------------------------------------------
// Nova

export interface NovaAddress {
  addr: string;
  version: number;
  "OS-EXT-IPS:type"?: string;
  "OS-EXT-IPS-MAC:mac_addr"?: string;
}

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

// ---------------------------------------------------------------------------------------------
// Neutron

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

// ---------------------------------------------------------------------------------------------
// Glance

export interface GlanceImage {
  id: string;
  name: string;
  status?: string;
}

export class GlanceClient {
  private readonly svc: AuthedService;

  constructor(session: KeystoneSession, opts: ClientOptions = {}) {
    this.svc = new AuthedService(session, async () => `${(await session.endpoint("image")).replace(/\/v2$/, "")}/v2`, opts);
  }

  async getImage(id: string): Promise<GlanceImage | undefined> {
    const res = await orUndefinedOn404(this.svc.request<GlanceImage>("GET", `/images/${encodeURIComponent(id)}`));
    return res?.body;
  }

  /** An image by uuid or by unique name. */
  async findImage(idOrName: string): Promise<GlanceImage | undefined> {
    if (looksLikeUuid(idOrName)) {
      const byId = await this.getImage(idOrName);
      if (byId) return byId;
    }
    const res = await this.svc.request<{ images: GlanceImage[] }>("GET", "/images", { query: { name: idOrName } });
    const images = (res.body.images ?? []).filter((i) => i.name === idOrName);
    if (images.length > 1) throw new Error(`image name "${idOrName}" is ambiguous: ${images.map((i) => i.id).join(", ")}; use the image uuid`);
    return images[0];
  }
}

/** The OpenStack services a VM needs, sharing one Keystone session. */
export class OpenStackClient {
  readonly keystone: KeystoneSession;
  readonly nova: NovaClient;
  readonly neutron: NeutronClient;
  readonly glance: GlanceClient;

  constructor(settings: OpenStackSettings, opts: ClientOptions = {}) {
    this.keystone = new KeystoneSession(settings, opts);
    this.nova = new NovaClient(this.keystone, opts);
    this.neutron = new NeutronClient(this.keystone, opts);
    this.glance = new GlanceClient(this.keystone, opts);
  }
}
