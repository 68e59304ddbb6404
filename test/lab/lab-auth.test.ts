// The lab's own helper APIs (/lab/*, the NSM JSON view) and TF's config API take a token from
// the lab's Keystone when the instance's auth is "keystone": none, a foreign one or an expired one
// gets 401 saying where to get one; /lab/health answers anyway with its status alone. With auth
// "noauth" everything answers without a token.
import { createHash } from "node:crypto";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

interface Answer {
  status: number;
  body: string;
}

async function send(base: string, method: string, route: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.text() };
}

/** The error message: {"error": ...} on the lab's own APIs, plain text on TF's. */
function messageOf(a: Answer): string {
  try {
    return (JSON.parse(a.body) as { error: string }).error;
  } catch {
    return a.body;
  }
}

/** Every route that needs a token, and how it answers with a valid one. */
function protectedRoutes(lab: TestLab): Array<{ name: string; base: string; method: string; route: string; body?: unknown; ok: number }> {
  const e = lab.endpoints;
  return [
    { name: "lab status", base: e.lab, method: "GET", route: "/lab/status", ok: 200 },
    { name: "lab topology", base: e.lab, method: "GET", route: "/lab/topology", ok: 200 },
    { name: "NSM services", base: e.nsm, method: "GET", route: "/registry/network-services", ok: 200 },
    { name: "NSM service", base: e.nsm, method: "GET", route: "/registry/network-services/nobody", ok: 404 },
    { name: "NSM endpoints", base: e.nsm, method: "GET", route: "/registry/network-service-endpoints", ok: 200 },
    { name: "NSM endpoint", base: e.nsm, method: "GET", route: "/registry/network-service-endpoints/tungsten@k8s-1", ok: 200 },
    { name: "NSM connections", base: e.nsm, method: "GET", route: "/nsmgr/connections", ok: 200 },
    { name: "NSM connection", base: e.nsm, method: "GET", route: "/nsmgr/connections/nobody", ok: 404 },
    { name: "TF networks", base: e.tf, method: "GET", route: "/virtual-networks", ok: 200 },
  ];
}

describe('with auth "keystone"', () => {
  let lab: TestLab;
  let good: Record<string, string>;
  let expired: Record<string, string>;

  beforeAll(async () => {
    lab = await startLab({ inProcess: true });
    good = await lab.authHeaders();
    // A second token, expired in the lab's token table (the lab's Keystone issues hour-long ones).
    const token = (await fetch(`${lab.endpoints.keystone}/auth/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        auth: {
          identity: { methods: ["password"], password: { user: { name: "admin", domain: { name: "Default" }, password: lab.config.credentials.password } } },
          scope: { project: { name: "admin", domain: { name: "Default" } } },
        },
      }),
    })).headers.get("x-subject-token")!;
    const db = new DatabaseSync(path.join(lab.stateDir, "lab.db"));
    try {
      db.prepare("UPDATE os_token SET expires_at = ? WHERE token_hash = ?").run(Date.now() - 1000, createHash("sha256").update(token).digest("hex"));
    } finally {
      db.close();
    }
    expired = { "x-auth-token": token };
  }, LAB_TIMEOUT);

  afterAll(() => lab?.stop(), LAB_TIMEOUT);

  it.each([
    ["no token", () => ({})],
    ["a token the lab's Keystone never issued", () => ({ "x-auth-token": "gAAAAAforeign" })],
    ["an expired token", () => expired],
  ])("refuses %s on every protected route with 401, naming where the credentials are", async (_what, headers) => {
    for (const r of protectedRoutes(lab)) {
      const a = await send(r.base, r.method, r.route, headers(), r.body);
      expect(a.status, `${r.name}: ${a.body}`).toBe(401);
      expect(messageOf(a), r.name).toBe(
        `Authentication required: send a valid token from the lab's Keystone in X-Auth-Token (get one with POST ${lab.endpoints.keystone}/auth/tokens, ` +
          `using the admin credentials in ${lab.stateDir}/endpoints.json ("credentials") or ${lab.stateDir}/instance.json)`,
      );
    }
    expect((await lab.status()).counts.pods).toBe(0);
  });

  it("answers every protected route with a valid token", async () => {
    for (const r of protectedRoutes(lab)) {
      const a = await send(r.base, r.method, r.route, good, r.body);
      expect(a.status, `${r.name}: ${a.body}`).toBe(r.ok);
    }
  });

  it("answers /lab/health without a token with the status alone, and in full with one", async () => {
    for (const headers of [{}, { "x-auth-token": "gAAAAAforeign" }, expired]) {
      const a = await send(lab.endpoints.lab, "GET", "/lab/health", headers);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body)).toEqual({ status: "ok" });
    }
    const full = JSON.parse((await send(lab.endpoints.lab, "GET", "/lab/health", good)).body);
    expect(full).toMatchObject({ status: "ok", instance: lab.name, prefix: lab.prefix, pid: process.pid });
  });
});

describe('with auth "noauth"', () => {
  let lab: TestLab;

  beforeAll(async () => {
    lab = await startLab({ inProcess: true, auth: "noauth" });
  }, LAB_TIMEOUT);

  afterAll(() => lab?.stop(), LAB_TIMEOUT);

  it("answers every route and the full health without a token", async () => {
    for (const r of protectedRoutes(lab)) {
      const a = await send(r.base, r.method, r.route, {}, r.body);
      expect(a.status, `${r.name}: ${a.body}`).toBe(r.ok);
    }
    expect(JSON.parse((await send(lab.endpoints.lab, "GET", "/lab/health", {})).body)).toMatchObject({ status: "ok", instance: lab.name, pid: process.pid });
  });
});
