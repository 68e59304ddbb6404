// In-process lab pieces for API tests: a ConfigStore on a temp dir, the TF and OpenStack servers on
// free ports, a fake VmRuntime that records calls, and a tiny fetch wrapper.
import { mkdtempSync, rmSync } from "node:fs";
import type http from "node:http";
import os from "node:os";
import path from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { close, listen } from "../../lib/http/server.ts";
import { createOpenStack } from "../../lab/openstack/index.ts";
import type { OpenStack, VmPort, VmRuntime } from "../../lab/openstack/index.ts";
import { openDb } from "../../lab/store/db.ts";
import { ConfigStore } from "../../lab/tf/configStore.ts";
import { requireKeystoneToken } from "../../lab/keystoneAuth.ts";
import { createTfServer } from "../../lab/tf/server.ts";
import { freePort } from "../../lib/freePort.ts";

export const NODES = [
  { name: "compute-1", ip: "172.31.0.10" },
  { name: "compute-2", ip: "172.31.0.11" },
  { name: "k8s-1", ip: "172.31.0.12" },
];
export const COMPUTE = ["compute-1", "compute-2"];
export const CREDS = { username: "admin" as const, password: "s3cret-pw", project: "admin" as const, domain: "Default" as const };

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** One HTTP call; never throws on a status, so tests can check error codes and bodies. */
export async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function newStore(dir: string): { db: DatabaseSync; store: ConfigStore } {
  const db = openDb(dir);
  return { db, store: new ConfigStore(db, { nodes: NODES }) };
}

/** Serves one http.Server on a free port; returns its base URL. */
export async function serve(server: http.Server, opened: http.Server[]): Promise<string> {
  const port = await listen(server, 0);
  opened.push(server);
  return `http://127.0.0.1:${port}`;
}

export async function closeAll(servers: http.Server[]): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => close(s)));
}

/** A VmRuntime that records what Nova asked for; `failBoot` makes the next boots fail. */
export class FakeVmRuntime implements VmRuntime {
  boots: Array<{ serverId: string; name: string; node: string; ports: VmPort[] }> = [];
  deletes: string[] = [];
  failBoot: string | undefined;
  async bootVm(vm: { serverId: string; name: string; node: string; ports: VmPort[] }): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.failBoot) throw new Error(this.failBoot);
    this.boots.push(structuredClone(vm));
  }
  async deleteVm(serverId: string): Promise<void> {
    this.deletes.push(serverId);
  }
}

export interface Lab {
  dir: string;
  db: DatabaseSync;
  store: ConfigStore;
  os: OpenStack;
  vm: FakeVmRuntime;
  url: { tf: string; keystone: string; nova: string; neutron: string; glance: string };
  servers: http.Server[];
}

/** Store + OpenStack + TF API, all on free ports, in keystone (default) or no-auth mode. */
export async function startLab(opts: { auth?: "keystone" | "noauth"; dir?: string; vm?: FakeVmRuntime } = {}): Promise<Lab> {
  const dir = opts.dir ?? tempDir("tfmesh-os-");
  const { db, store } = newStore(dir);
  const vm = opts.vm ?? new FakeVmRuntime();
  const servers: http.Server[] = [];
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  const u = (p: number, s = "") => `http://127.0.0.1:${p}${s}`;
  const endpoints = { keystone: u(ports[0]!, "/v3"), nova: u(ports[1]!, "/v2.1"), neutron: u(ports[2]!), glance: u(ports[3]!) };
  const osApi = createOpenStack({ db, store, instance: { computeNodes: COMPUTE, auth: opts.auth ?? "keystone", credentials: CREDS }, endpoints, vmRuntime: vm });
  osApi.resume();
  await listen(osApi.keystone.server, ports[0]!);
  await listen(osApi.nova, ports[1]!);
  await listen(osApi.neutron, ports[2]!);
  await listen(osApi.glance, ports[3]!);
  servers.push(osApi.keystone.server, osApi.nova, osApi.neutron, osApi.glance);
  const tf = await serve(createTfServer({ store, auth: opts.auth === "noauth" ? null : requireKeystoneToken(osApi.keystone.validateToken) }), servers);
  return { dir, db, store, os: osApi, vm, servers, url: { tf, keystone: u(ports[0]!), nova: u(ports[1]!), neutron: u(ports[2]!), glance: u(ports[3]!) } };
}

export async function stopLab(lab: Lab, keepDir = false): Promise<void> {
  await lab.os.model.nova.idle();
  await closeAll(lab.servers);
  lab.db.close();
  if (!keepDir) removeDir(lab.dir);
}

/** A token for the lab's admin. */
export async function token(lab: Lab): Promise<string> {
  const r = await call("POST", `${lab.url.keystone}/v3/auth/tokens`, {
    auth: {
      identity: { methods: ["password"], password: { user: { name: "admin", domain: { name: "Default" }, password: CREDS.password } } },
      scope: { project: { name: "admin", domain: { name: "Default" } } },
    },
  });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${r.text}`);
  return r.headers.get("x-subject-token")!;
}
