// Fake Keystone v3, as the lab's (lab/openstack/keystone.ts) answers the client: password (and
// token) authentication of the admin user scoped to the admin project, 201 with X-Subject-Token and
// the token body with its catalog (public, internal and admin endpoint of every service), 400/401 in
// Keystone's error shape. Tokens are counted and can be revoked all at once (state.validTokens.clear()).
import { randomBytes } from "node:crypto";
import type http from "node:http";
import { ApiError, createJsonServer } from "../../../lib/http/server.ts";
import type { ApiRequest } from "../../../lib/http/server.ts";
import { keystoneError, tokenOf, Unauthorized } from "../../../lab/openstack/common.ts";
import { PROJECT_ID, USER_ID } from "./mount.ts";

export const PASSWORD = "fake-secret";
export const CREDENTIALS = { username: "admin", password: PASSWORD, project: "admin", domain: "Default" } as const;

export interface KeystoneFakeState {
  /** Successful authentications so far. */
  authCount: number;
  validTokens: Set<string>;
}

export interface CatalogService {
  type: string;
  name: string;
  url: string;
}

const DOMAIN = { id: "default", name: CREDENTIALS.domain };
const ROLE = { id: "9fe2ff9ee4384b1894a90878d3e92bab", name: "admin" };
// Keystone's timestamps carry microseconds.
const iso = (ms: number) => new Date(ms).toISOString().replace(/Z$/, "000Z");

/** keystonemiddleware in front of every other fake OpenStack service: 401 without a valid token. */
export function requireKeystoneToken(state: KeystoneFakeState): (req: ApiRequest) => void {
  return (req) => {
    const t = tokenOf(req);
    if (t === undefined || !state.validTokens.has(t)) throw new Unauthorized();
  };
}

function checkAuth(state: KeystoneFakeState, body: unknown): string[] {
  const auth = (body as { auth?: Record<string, any> } | undefined)?.auth;
  const identity = auth?.identity;
  const methods = identity?.methods;
  if (!identity || !Array.isArray(methods) || methods.length === 0) {
    throw new ApiError(400, "Expecting to find identity in auth - the server could not comply with the request since it is either malformed or otherwise incorrect.");
  }
  const denied = () => new ApiError(401, "The request you have made requires authentication.");
  if (methods.includes("password")) {
    const user = identity.password?.user;
    if (!user) throw new ApiError(400, "Expecting to find user in password.");
    const inDomain = user.id !== undefined || user.domain?.id === DOMAIN.id || user.domain?.name === DOMAIN.name;
    const named = user.id !== undefined ? user.id === USER_ID : user.name === CREDENTIALS.username;
    if (!named || !inDomain || user.password !== PASSWORD) throw denied();
  } else if (methods.includes("token")) {
    if (!state.validTokens.has(identity.token?.id)) throw denied();
  } else {
    throw new ApiError(401, `Unsupported authentication method: ${methods.join(", ")}`);
  }
  const project = auth?.scope?.project;
  if (project) {
    const inDomain = project.domain?.id === DOMAIN.id || project.domain?.name === DOMAIN.name;
    const ok = project.id !== undefined ? project.id === PROJECT_ID : project.name === CREDENTIALS.project && inDomain;
    if (!ok) throw new ApiError(401, `Could not find project: ${project.id ?? project.name}.`);
  }
  return methods as string[];
}

export function fakeKeystone(state: KeystoneFakeState, catalog: () => CatalogService[]): http.Server {
  const catalogBody = () =>
    catalog().map((s, i) => ({
      id: `c0ffee${i}`.padEnd(32, "0"),
      type: s.type,
      name: s.name,
      endpoints: ["public", "internal", "admin"].map((iface, j) => ({ id: `e0${i}${j}`.padEnd(32, "0"), interface: iface, region: "RegionOne", region_id: "RegionOne", url: s.url })),
    }));
  return createJsonServer({
    name: "fake-keystone",
    renderError: keystoneError,
    routes: [
      {
        method: "POST",
        pattern: "/v3/auth/tokens",
        handler: (req) => {
          const methods = checkAuth(state, req.body);
          state.authCount++;
          const token = `tok-${state.authCount}`;
          state.validTokens.add(token);
          const now = Date.now();
          return {
            status: 201,
            headers: { "x-subject-token": token },
            body: {
              token: {
                methods,
                user: { id: USER_ID, name: CREDENTIALS.username, domain: DOMAIN, password_expires_at: null },
                audit_ids: [randomBytes(16).toString("base64url").slice(0, 22)],
                expires_at: iso(now + 3600_000),
                issued_at: iso(now),
                project: { id: PROJECT_ID, name: CREDENTIALS.project, domain: DOMAIN },
                is_domain: false,
                roles: [ROLE],
                catalog: catalogBody(),
              },
            },
          };
        },
      },
    ],
  });
}
