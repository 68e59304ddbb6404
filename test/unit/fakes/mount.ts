// What the fake APIs share: one local port, each API under its own path prefix and served by its
// own JSON router (its own auth hook and error shape, as the lab's services each have), and the ids
// the faked services agree on, as the lab's services do.
import http from "node:http";
import { hexId } from "../../../lab/openstack/common.ts";

/** The TF project default-domain:admin; Keystone's project id and Neutron's tenant_id are its uuid without dashes. */
export const PROJECT_UUID = "a0000000-0000-4000-8000-000000000001";
export const PROJECT_ID = hexId(PROJECT_UUID);
export const PROJECT_FQ = ["default-domain", "admin"];
export const USER_ID = "0f1a2b3c4d5e6f708192a3b4c5d6e7f8";

/** The lab's compute and k8s nodes as the fakes know them (one k8s node: the fake forwarders run on k8s-1). */
export const COMPUTE_NODES = ["compute-1", "compute-2"];
export const K8S_NODES = ["k8s-1"];

export interface MountedApi {
  /** "/compute": requests under it reach `server` with the prefix taken off, as if it had its own port. */
  prefix: string;
  /** An API's own router (never listening itself). */
  server: http.Server;
}

/** One server in front of several APIs, each under its prefix. */
export function mountApis(apis: MountedApi[]): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? "/";
    const api = apis.find((a) => url === a.prefix || url.startsWith(`${a.prefix}/`) || url.startsWith(`${a.prefix}?`));
    if (!api) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `no fake API serves ${url}` }));
      return;
    }
    const rest = url.slice(api.prefix.length);
    req.url = rest.startsWith("/") ? rest : `/${rest}`;
    api.server.emit("request", req, res);
  });
}

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");
/** A random locally administered unicast MAC. */
export const randomMac = () => `02:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}`;
