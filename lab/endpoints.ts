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
  /** The lab's own read-only API: /lab/health, /lab/status (counts), /lab/topology. */
  lab: string;
  /**
   * vRouter agent port API per node, for host-side tools: unix:///<stateDir>/sock/agent-<node>.sock
   * (root only; HttpClient speaks HTTP over it). The agent has no TCP port on the host; inside a k8s
   * node's netns it answers at 127.0.0.1:9091 (NODE_AGENT_PORT, the node's relay), as on a real node.
   */
  agents: Record<string, string>;
  credentials: LabCredentials;
  /**
   * The SPIFFE Workload API of the lab's SPIRE agent (unix:///<stateDir>/spire/agent.sock), as
   * SPIFFE_ENDPOINT_SOCKET names it: NSM's gRPC API is mTLS with the SVID it gives this process.
   */
  spiffe: string;
  /** The Kubernetes API server and an admin kubeconfig for it, when the instance runs Kubernetes. */
  kubernetes?: { server: string; kubeconfig: string };
}

const ENDPOINTS_FILE = "endpoints.json";

/** Where a k8s node's processes (forwarders, in the node's netns) reach the node's vRouter agent, as on a real node. */
export const NODE_AGENT_PORT = 9091;

/**
 * The daemon's unix sockets under the state dir: processes in a node's netns cannot reach its
 * 127.0.0.1 listeners, but sockets cross namespaces. The NSMgr's gRPC API (NSM's own model: a
 * forwarder connects to nsm.io.sock), TF's config API, Keystone and each node's vRouter agent (which
 * a node's relay offers in that node's netns only), and the forwarders' own sockets and state.
 */
export interface LabSockets {
  nsm: string;
  tf: string;
  keystone: string;
  agent(node: string): string;
  forwarder(name: string): string;
  /** A forwarder's TFMESH_STATE_DIR (a directory, not a socket). */
  forwarderState(name: string): string;
  /** The lab's SPIRE (server and agent state, their sockets). */
  spireDir: string;
  /** The SPIRE agent's Workload API socket. */
  spiffe: string;
}

export function labSockets(stateDir: string): LabSockets {
  const dir = path.join(stateDir, "sock");
  return {
    nsm: path.join(dir, "nsm.io.sock"),
    tf: path.join(dir, "tf.sock"),
    keystone: path.join(dir, "keystone.sock"),
    agent: (node) => path.join(dir, `agent-${node}.sock`),
    forwarder: (name) => path.join(dir, `${name}.sock`),
    forwarderState: (name) => path.join(stateDir, "forwarders", name),
    spireDir: path.join(stateDir, "spire"),
    spiffe: path.join(stateDir, "spire", "agent.sock"),
  };
}

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
    lab: local(p.lab),
    agents: Object.fromEntries(labNodes(config).map((n) => [n.name, `unix://${labSockets(config.stateDir).agent(n.name)}`])),
    credentials: { ...config.credentials },
    spiffe: `unix://${labSockets(config.stateDir).spiffe}`,
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
  for (const key of ["instance", "prefix", "tf", "keystone", "nova", "neutron", "glance", "nsm", "nsmGrpc", "lab"] as const) {
    if (typeof o[key] !== "string") throw new Error(`${file} lacks "${key}"`);
  }
  if (!o.agents || typeof o.agents !== "object") throw new Error(`${file} lacks "agents"`);
  if (!o.credentials || typeof o.credentials.password !== "string") throw new Error(`${file} lacks "credentials"`);
  return o as LabEndpoints;
}
