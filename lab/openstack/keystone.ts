// Keystone v3 for the lab: version discovery, password (and token) authentication scoped to the
// admin project, token validation, and a service catalog of the lab's endpoints. Tokens live in
// sqlite so a daemon restart keeps them valid until they expire.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ApiError, createJsonServer } from "../../lib/http/server.ts";
import type { ApiRequest, ApiResponse } from "../../lib/http/server.ts";
import type { LabEndpoints } from "../endpoints.ts";
import type { LabCredentials } from "../instance.ts";
import { hostUrl, keystoneError, tokenOf } from "./common.ts";
import type { TokenValidator } from "./common.ts";

/** Keystone's name comparison on MySQL (a case-insensitive collation). */
const sameName = (given: unknown, stored: string): boolean => typeof given === "string" && given.toLowerCase() === stored.toLowerCase();

export interface Identity {
  domain: { id: string; name: string };
  user: { id: string; name: string };
  project: { id: string; name: string };
  role: { id: string; name: string };
}

export interface KeystoneOptions {
  db: DatabaseSync;
  credentials: LabCredentials;
  endpoints: Pick<LabEndpoints, "keystone" | "nova" | "neutron" | "glance">;
  /** Project id (the TF admin project's uuid without dashes, so Neutron's project_id matches). */
  projectId: string;
  tokenTtlSeconds?: number;
  now?: () => number;
}

interface TokenRow {
  token_hash: string;
  issued_at: number;
  expires_at: number;
  audit_id: string;
  methods: string;
}

const DDL = `CREATE TABLE IF NOT EXISTS os_token (
  token_hash TEXT PRIMARY KEY, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, audit_id TEXT NOT NULL, methods TEXT NOT NULL)`;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const iso = (ms: number) => new Date(ms).toISOString().replace(/Z$/, "000Z");

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(sha(a));
  const y = Buffer.from(sha(b));
  return timingSafeEqual(x, y);
}

export class Keystone {
  readonly identity: Identity;
  private readonly opts: KeystoneOptions;
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly st: Record<"insert" | "get" | "delete" | "purge", StatementSync>;

  constructor(opts: KeystoneOptions) {
    this.opts = opts;
    this.ttl = (opts.tokenTtlSeconds ?? 3600) * 1000;
    this.now = opts.now ?? Date.now;
    opts.db.exec(DDL);
    this.st = {
      insert: opts.db.prepare("INSERT INTO os_token (token_hash, issued_at, expires_at, audit_id, methods) VALUES (?, ?, ?, ?, ?)"),
      get: opts.db.prepare("SELECT * FROM os_token WHERE token_hash = ?"),
      delete: opts.db.prepare("DELETE FROM os_token WHERE token_hash = ?"),
      purge: opts.db.prepare("DELETE FROM os_token WHERE expires_at < ?"),
    };
    const c = opts.credentials;
    // Stable ids derived from the instance's own names, so they survive restarts.
    const id = (what: string) => sha(`${opts.projectId}:${what}`).slice(0, 32);
    this.identity = {
      domain: { id: "default", name: c.domain },
      user: { id: id(`user:${c.username}`), name: c.username },
      project: { id: opts.projectId, name: c.project },
      role: { id: id("role:admin"), name: "admin" },
    };
  }

  /** The TokenValidator the other services use. */
  readonly validateToken: TokenValidator = (token) => this.lookup(token) !== undefined;

  private lookup(token: string | undefined): TokenRow | undefined {
    if (!token) return undefined;
    const row = this.st.get.get(sha(token)) as TokenRow | undefined;
    if (!row || Number(row.expires_at) <= this.now()) return undefined;
    return row;
  }

  /** Issues a token for the admin user scoped to the admin project. */
  issue(methods: string[]): { token: string; row: TokenRow } {
    const t = this.now();
    this.st.purge.run(t);
    const token = `gAAAAA${randomBytes(32).toString("base64url")}`;
    const row: TokenRow = { token_hash: sha(token), issued_at: t, expires_at: t + this.ttl, audit_id: randomBytes(16).toString("base64url").slice(0, 22), methods: methods.join(",") };
    this.st.insert.run(row.token_hash, row.issued_at, row.expires_at, row.audit_id, row.methods);
    return { token, row };
  }

  revoke(token: string): boolean {
    return Number(this.st.delete.run(sha(token)).changes) > 0;
  }

  private catalog() {
    const e = this.opts.endpoints;
    const svc = (type: string, name: string, url: string) => ({
      id: sha(`service:${type}`).slice(0, 32),
      type,
      name,
      endpoints: ["public", "internal", "admin"].map((iface) => ({
        id: sha(`endpoint:${type}:${iface}`).slice(0, 32),
        interface: iface,
        region: "RegionOne",
        region_id: "RegionOne",
        url,
      })),
    });
    return [
      svc("compute", "nova", e.nova),
      svc("network", "neutron", e.neutron),
      svc("image", "glance", e.glance),
      svc("identity", "keystone", e.keystone),
    ];
  }

  tokenBody(row: TokenRow) {
    const { domain, user, project, role } = this.identity;
    return {
      token: {
        methods: row.methods.split(","),
        user: { id: user.id, name: user.name, domain, password_expires_at: null },
        audit_ids: [row.audit_id],
        expires_at: iso(Number(row.expires_at)),
        issued_at: iso(Number(row.issued_at)),
        project: { id: project.id, name: project.name, domain },
        is_domain: false,
        roles: [role],
        catalog: this.catalog(),
      },
    };
  }

  /**
   * Checks a POST /v3/auth/tokens body; throws 401/400 like Keystone. Names (user, domain, project)
   * match without regard to case, as a Keystone on MySQL's case-insensitive collation matches them
   * (clients with their defaults send "default" or "Default" alike); ids match exactly.
   */
  authenticate(body: unknown): string[] {
    const auth = (body as { auth?: Record<string, unknown> } | undefined)?.auth;
    const identity = auth?.identity as Record<string, unknown> | undefined;
    const methods = identity?.methods;
    if (!identity || !Array.isArray(methods) || methods.length === 0) {
      throw new ApiError(400, "Expecting to find identity in auth - the server could not comply with the request since it is either malformed or otherwise incorrect.");
    }
    const c = this.opts.credentials;
    if (methods.includes("password")) {
      const user = (identity.password as { user?: Record<string, unknown> } | undefined)?.user;
      if (!user) throw new ApiError(400, "Expecting to find user in password.");
      const dom = user.domain as { id?: string; name?: string } | undefined;
      const nameOk = user.id !== undefined ? user.id === this.identity.user.id : sameName(user.name, c.username);
      const domOk = user.id !== undefined || dom?.id === "default" || sameName(dom?.name, c.domain);
      if (!nameOk || !domOk || typeof user.password !== "string" || !sameSecret(user.password, c.password)) {
        throw new ApiError(401, "The request you have made requires authentication.");
      }
    } else if (methods.includes("token")) {
      const id = (identity.token as { id?: string } | undefined)?.id;
      if (!this.lookup(id)) throw new ApiError(401, "The request you have made requires authentication.");
    } else {
      throw new ApiError(401, `Unsupported authentication method: ${methods.join(", ")}`);
    }
    const scope = auth?.scope as { project?: { id?: string; name?: string; domain?: { id?: string; name?: string } }; system?: unknown; domain?: unknown } | undefined;
    if (scope?.project) {
      const p = scope.project;
      const ok = p.id !== undefined ? p.id === this.identity.project.id : sameName(p.name, c.project) && (p.domain?.id === "default" || sameName(p.domain?.name, c.domain));
      if (!ok) throw new ApiError(401, `Could not find project: ${p.id ?? p.name}.`);
    } else if (scope && (scope.system || scope.domain)) {
      throw new ApiError(401, "The lab only issues tokens scoped to the admin project.");
    }
    return methods as string[];
  }

  createServer(): http.Server {
    const version = (req: ApiRequest) => ({
      id: "v3.14",
      status: "stable",
      updated: "2020-04-07T00:00:00Z",
      links: [{ rel: "self", href: `${hostUrl(req)}/v3/` }],
      "media-types": [{ base: "application/json", type: "application/vnd.openstack.identity-v3+json" }],
    });
    const validate = (req: ApiRequest): TokenRow => {
      if (!this.lookup(tokenOf(req))) throw new ApiError(401, "The request you have made requires authentication.");
      const subject = req.headers["x-subject-token"];
      const row = this.lookup(Array.isArray(subject) ? subject[0] : subject);
      if (!row) throw new ApiError(404, `Could not find token: ${String(subject ?? "")}`);
      return row;
    };
    return createJsonServer({
      name: "keystone",
      renderError: keystoneError,
      routes: [
        { method: "GET", pattern: "/", handler: (req) => ({ status: 300, body: { versions: { values: [version(req)] } } }) },
        { method: "GET", pattern: "/v3", handler: (req) => ({ body: { version: version(req) } }) },
        {
          method: "POST",
          pattern: "/v3/auth/tokens",
          handler: (req): ApiResponse => {
            const methods = this.authenticate(req.body);
            const { token, row } = this.issue(methods);
            return { status: 201, body: this.tokenBody(row), headers: { "x-subject-token": token } };
          },
        },
        {
          method: "GET",
          pattern: "/v3/auth/tokens",
          handler: (req) => {
            const row = validate(req);
            const subject = String(req.headers["x-subject-token"]);
            return { body: this.tokenBody(row), headers: { "x-subject-token": subject } };
          },
        },
        {
          method: "DELETE",
          pattern: "/v3/auth/tokens",
          handler: (req) => {
            validate(req);
            this.revoke(String(req.headers["x-subject-token"]));
            return { status: 204 };
          },
        },
        {
          method: "GET",
          pattern: "/v3/auth/catalog",
          handler: (req) => {
            if (!this.lookup(tokenOf(req))) throw new ApiError(401, "The request you have made requires authentication.");
            return { body: { catalog: this.catalog(), links: { self: `${hostUrl(req)}/v3/auth/catalog` } } };
          },
        },
      ],
    });
  }
}
