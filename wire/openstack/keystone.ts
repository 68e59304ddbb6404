// Keystone v3 password auth (token cached until shortly before it expires, re-authenticated once
// on a 401), service URLs from the token's catalog, and the authenticated base every OpenStack
// service client sends its calls through. Wire shapes: shared/reference/openstack.md.
import { HttpClient, isStatus } from "../../lib/http/client.ts";
import type { HttpResponse, RequestOptions } from "../../lib/http/client.ts";
import type { OpenStackSettings } from "../settings.ts";

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
