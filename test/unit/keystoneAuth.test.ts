// The lab's one Keystone check (lab/keystoneAuth.ts) over the lab Keystone's own token validation.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../lib/http/server.ts";
import type { ApiRequest } from "../../lib/http/server.ts";
import { keystoneHint, requireKeystoneToken } from "../../lab/keystoneAuth.ts";
import { Keystone } from "../../lab/openstack/keystone.ts";

const request = (path: string, token?: string | string[]): ApiRequest => ({
  method: "GET",
  path,
  params: {},
  query: new URLSearchParams(),
  headers: token === undefined ? {} : { "x-auth-token": token },
  body: undefined,
  rawBody: "",
});

function keystoneAt(clock: { now: number }) {
  return new Keystone({
    db: new DatabaseSync(":memory:"),
    credentials: { username: "admin", password: "pw", project: "admin", domain: "Default" },
    endpoints: { keystone: "http://127.0.0.1:1/v3", nova: "http://127.0.0.1:2", neutron: "http://127.0.0.1:3", glance: "http://127.0.0.1:4" },
    projectId: "0123456789abcdef0123456789abcdef",
    tokenTtlSeconds: 60,
    now: () => clock.now,
  });
}

const refusal = (fn: () => void): ApiError | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e as ApiError;
  }
};

describe("requireKeystoneToken", () => {
  const clock = { now: 1_000_000 };
  const keystone = keystoneAt(clock);
  const hint = keystoneHint("http://127.0.0.1:5000/v3", "/tmp/lab-x");
  const check = requireKeystoneToken(keystone.validateToken, { hint, open: ["/lab/health"] });

  it("passes a token the lab's Keystone issued and refuses none, a foreign one, or one it expired", () => {
    const { token } = keystone.issue(["password"]);
    expect(refusal(() => check.require(request("/pods", token)))).toBeUndefined();
    expect(check.accepts(request("/pods", token))).toBe(true);
    expect(refusal(() => check.require(request("/pods", [token, "x"])))).toBeUndefined();
    for (const bad of [undefined, "", "gAAAAAnot-issued-here"]) {
      const err = refusal(() => check.require(request("/pods", bad)));
      expect(err).toBeInstanceOf(ApiError);
      expect(err?.status).toBe(401);
    }
    clock.now += 61_000;
    expect(check.accepts(request("/pods", token))).toBe(false);
    expect(refusal(() => check.require(request("/lab/status", token)))?.status).toBe(401);
  });

  it("says where the token and the credentials come from", () => {
    const err = refusal(() => check.require(request("/lab/status")));
    expect(err?.message).toBe(
      "Authentication required: send a valid token from the lab's Keystone in X-Auth-Token " +
        '(get one with POST http://127.0.0.1:5000/v3/auth/tokens, using the admin credentials in /tmp/lab-x/endpoints.json ("credentials") or /tmp/lab-x/instance.json)',
    );
  });

  it("lets the open paths through without a token, with or without a trailing slash, and only them", () => {
    expect(refusal(() => check.require(request("/lab/health")))).toBeUndefined();
    expect(refusal(() => check.require(request("/lab/health/")))).toBeUndefined();
    expect(check.accepts(request("/lab/health"))).toBe(false);
    expect(refusal(() => check.require(request("/lab/healthz")))?.status).toBe(401);
    expect(refusal(() => check.require(request("/lab")))?.status).toBe(401);
  });
});
