// Keystone v3 as keystoneauth/openstacksdk/gophercloud use it: discovery, password tokens with the
// lab's catalog, validation, and 401s; tokens survive a daemon restart and expire.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Keystone } from "../../lab/openstack/keystone.ts";
import { openDb } from "../../lab/store/db.ts";
import { CREDS, call, removeDir, startLab, stopLab, tempDir, token } from "./tf-harness.ts";
import type { Lab } from "./tf-harness.ts";

let lab: Lab;
let ks: string;
const passwordAuth = (password: string, scope: unknown = { project: { name: "admin", domain: { name: "Default" } } }) => ({
  auth: { identity: { methods: ["password"], password: { user: { name: "admin", domain: { name: "Default" }, password } } }, scope },
});

beforeAll(async () => {
  lab = await startLab();
  ks = lab.url.keystone;
});
afterAll(async () => {
  await stopLab(lab);
});

describe("keystone", () => {
  it("publishes its versions on / (300) and /v3", async () => {
    const root = await call("GET", `${ks}/`);
    expect(root.status).toBe(300);
    expect(root.json.versions.values[0]).toMatchObject({ id: "v3.14", status: "stable", links: [{ rel: "self", href: `${ks}/v3/` }] });
    const v3 = await call("GET", `${ks}/v3`);
    expect(v3.json.version["media-types"]).toEqual([{ base: "application/json", type: "application/vnd.openstack.identity-v3+json" }]);
  });

  it("issues a project-scoped token with the catalog of the lab's endpoints", async () => {
    const r = await call("POST", `${ks}/v3/auth/tokens`, passwordAuth(CREDS.password));
    expect(r.status).toBe(201);
    expect(r.headers.get("x-subject-token")).toBeTruthy();
    const t = r.json.token;
    expect(t.methods).toEqual(["password"]);
    expect(t.project).toMatchObject({ name: "admin", domain: { id: "default", name: "Default" } });
    expect(t.user.name).toBe("admin");
    expect(t.roles.map((x: { name: string }) => x.name)).toContain("admin");
    expect(Date.parse(t.expires_at)).toBeGreaterThan(Date.now());
    const url = (type: string) => t.catalog.find((s: { type: string }) => s.type === type).endpoints.find((e: { interface: string }) => e.interface === "public").url;
    expect(url("compute")).toBe(`${lab.url.nova}/v2.1`);
    expect(url("network")).toBe(lab.url.neutron);
    expect(url("image")).toBe(lab.url.glance);
    expect(url("identity")).toBe(`${ks}/v3`);
    expect(t.catalog[0].endpoints[0]).toMatchObject({ region: "RegionOne", region_id: "RegionOne" });
  });

  it("accepts the project by id and re-scoping with a token", async () => {
    const first = await call("POST", `${ks}/v3/auth/tokens`, passwordAuth(CREDS.password));
    const byId = await call("POST", `${ks}/v3/auth/tokens`, passwordAuth(CREDS.password, { project: { id: first.json.token.project.id } }));
    expect(byId.status).toBe(201);
    const viaToken = await call("POST", `${ks}/v3/auth/tokens`, {
      auth: { identity: { methods: ["token"], token: { id: first.headers.get("x-subject-token") } }, scope: { project: { id: first.json.token.project.id } } },
    });
    expect(viaToken.status).toBe(201);
  });

  it("matches user, domain and project names without regard to case, as a MySQL-backed Keystone does", async () => {
    const auth = (user: string, domain: string, project: string) => ({
      auth: {
        identity: { methods: ["password"], password: { user: { name: user, domain: { name: domain }, password: CREDS.password } } },
        scope: { project: { name: project, domain: { name: domain } } },
      },
    });
    for (const [user, domain, project] of [["ADMIN", "default", "Admin"], ["Admin", "DEFAULT", "ADMIN"]] as const) {
      const r = await call("POST", `${ks}/v3/auth/tokens`, auth(user, domain, project));
      expect(r.status, `${user}/${domain}/${project}`).toBe(201);
      expect(r.json.token.project).toMatchObject({ name: "admin", domain: { name: "Default" } });
    }
    expect((await call("POST", `${ks}/v3/auth/tokens`, auth("admins", "default", "admin"))).status).toBe(401);
    expect((await call("POST", `${ks}/v3/auth/tokens`, { auth: { ...auth("admin", "Default", "admin").auth, identity: { methods: ["password"], password: { user: { name: "admin", domain: { name: "Default" }, password: CREDS.password.toUpperCase() } } } } })).status).toBe(401);
  });

  it("401s a wrong password, an unknown project and a bad token, with keystone's error body", async () => {
    const wrong = await call("POST", `${ks}/v3/auth/tokens`, passwordAuth("nope"));
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toMatchObject({ code: 401, title: "Unauthorized" });
    const project = await call("POST", `${ks}/v3/auth/tokens`, passwordAuth(CREDS.password, { project: { name: "demo", domain: { name: "Default" } } }));
    expect(project.status).toBe(401);
    const malformed = await call("POST", `${ks}/v3/auth/tokens`, { auth: {} });
    expect(malformed.status).toBe(400);
  });

  it("validates tokens with GET and HEAD, 404s an unknown subject, and revokes with DELETE", async () => {
    const t = await token(lab);
    const h = { "x-auth-token": t, "x-subject-token": t };
    const g = await call("GET", `${ks}/v3/auth/tokens`, undefined, h);
    expect(g.status).toBe(200);
    expect(g.json.token.project.name).toBe("admin");
    expect((await call("HEAD", `${ks}/v3/auth/tokens`, undefined, h)).status).toBe(200);
    expect((await call("GET", `${ks}/v3/auth/tokens`, undefined, { "x-auth-token": t, "x-subject-token": "gAAAAAforged" })).status).toBe(404);
    expect((await call("GET", `${ks}/v3/auth/tokens`, undefined, { "x-auth-token": "forged", "x-subject-token": t })).status).toBe(401);
    const other = await token(lab);
    expect((await call("DELETE", `${ks}/v3/auth/tokens`, undefined, { "x-auth-token": t, "x-subject-token": other })).status).toBe(204);
    expect(lab.os.keystone.validateToken(other)).toBe(false);
    expect(lab.os.keystone.validateToken(t)).toBe(true);
  });

  it("guards the other services with the token (keystonemiddleware's 401)", async () => {
    const r = await call("GET", `${lab.url.nova}/v2.1/servers`);
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe(401);
    expect((await call("GET", `${lab.url.neutron}/v2.0/networks`, undefined, { "x-auth-token": "x" })).status).toBe(401);
    expect((await call("GET", `${lab.url.glance}/v2/images`)).status).toBe(401);
    expect((await call("GET", `${lab.url.nova}/v2.1/`)).status).toBe(200);
  });
});

describe("keystone tokens over time", () => {
  it("stay valid across a restart and expire after their lifetime", () => {
    const dir = tempDir("tfmesh-ks-");
    try {
      let now = 1_000_000;
      const endpoints = { keystone: "http://k/v3", nova: "http://n/v2.1", neutron: "http://q", glance: "http://g" };
      const db1 = openDb(dir);
      const k1 = new Keystone({ db: db1, credentials: CREDS, endpoints, projectId: "p".repeat(32), tokenTtlSeconds: 60, now: () => now });
      const { token: t } = k1.issue(["password"]);
      db1.close();
      const db2 = openDb(dir);
      const k2 = new Keystone({ db: db2, credentials: CREDS, endpoints, projectId: "p".repeat(32), tokenTtlSeconds: 60, now: () => now });
      expect(k2.validateToken(t)).toBe(true);
      now += 61_000;
      expect(k2.validateToken(t)).toBe(false);
      expect(k2.validateToken(undefined)).toBe(false);
      db2.close();
    } finally {
      removeDir(dir);
    }
  });
});
