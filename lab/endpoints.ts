// endpoints.json: how clients (the provider by default, the CLI, tests) find a running lab instance.
import fs from "node:fs";
import path from "node:path";
import type { LabCredentials, LabInstanceConfig } from "./instance.ts";
import { DEFAULT_INSTANCE, defaultStateDir, labNodes } from "./instance.ts";

export interface LabEndpoints {
  instance: string;
  prefix: string;
  tf: string;
  keystone: string;
  nova: string;
  neutron: string;
  glance: string;
  nsm: string;
  /** NSM's gRPC API, as NSM names a place to connect to: tcp://127.0.0.1:<port>. */
  nsmGrpc: string;
  pods: string;
  /** vRouter agent port API per node. */
  agents: Record<string, string>;
  credentials: LabCredentials;
  /** The Kubernetes API server and an admin kubeconfig for it, when the instance runs Kubernetes. */
  kubernetes?: { server: string; kubeconfig: string };
}

const ENDPOINTS_FILE = "endpoints.json";

const local = (port: number, suffix = "") => `http://127.0.0.1:${port}${suffix}`;

export function endpointsFor(config: LabInstanceConfig): LabEndpoints {
  const p = config.ports;
  return {
    instance: config.name,
    prefix: config.prefix,
    tf: local(p.tf),
    keystone: local(p.keystone, "/v3"),
    nova: local(p.nova, "/v2.1"),
    neutron: local(p.neutron),
    glance: local(p.glance),
    nsm: local(p.nsm),
    nsmGrpc: `tcp://127.0.0.1:${p.nsmGrpc}`,
    pods: local(p.pods),
    agents: Object.fromEntries(labNodes(config).map((n) => [n.name, local(p.agentBase + n.index)])),
    credentials: { ...config.credentials },
    ...(config.kubernetes && p.kubeApiserver !== undefined
      ? { kubernetes: { server: `https://127.0.0.1:${p.kubeApiserver}`, kubeconfig: path.join(config.stateDir, "kubeconfig") } }
      : {}),
  };
}

export function endpointsPath(stateDir: string = defaultStateDir(DEFAULT_INSTANCE)): string {
  return path.join(stateDir, ENDPOINTS_FILE);
}

/** Atomic and owner-only: the file carries the admin password. */
export function writeEndpoints(stateDir: string, endpoints: LabEndpoints): void {
  const file = endpointsPath(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(endpoints, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * The endpoints of the instance in stateDir (default: the default instance), or undefined when it
 * has never been started there. A file that exists but is damaged is an error, not "absent".
 */
export function readEndpoints(stateDir: string = defaultStateDir(DEFAULT_INSTANCE)): LabEndpoints | undefined {
  const file = endpointsPath(stateDir);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const o = parsed as Partial<LabEndpoints>;
  for (const key of ["instance", "prefix", "tf", "keystone", "nova", "neutron", "glance", "nsm", "nsmGrpc", "pods"] as const) {
    if (typeof o[key] !== "string") throw new Error(`${file} lacks "${key}"`);
  }
  if (!o.agents || typeof o.agents !== "object") throw new Error(`${file} lacks "agents"`);
  if (!o.credentials || typeof o.credentials.password !== "string") throw new Error(`${file} lacks "credentials"`);
  return o as LabEndpoints;
}
