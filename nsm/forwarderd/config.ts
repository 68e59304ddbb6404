// The forwarder program's configuration: its environment, as NSM's forwarders take theirs from the
// DaemonSet (components/k8s/tungstenForwarder.ts writes exactly these). Bad values fail at start
// with the variable's name.
//
//   NSM_NAME                 the endpoint name it registers (lab: "<type>@<node>"; k8s: the pod name)
//   NSM_CONNECT_TO           the node's NSMgr: unix:///var/lib/networkservicemesh/nsm.io.sock or tcp://host:port
//   NSM_LISTEN_ON            where it serves NSM's gRPC API, registered as its URL (unix:///path or tcp://host:port)
//   NSM_LABELS               its labels, "key:value,key:value"; `type` (tungsten | kernel) is required
//   NODE_NAME                the node it serves (added to the labels as `node`)
//   NSM_MAX_TOKEN_LIFETIME   how long a registration lasts (Go duration, e.g. "10m"); the registry's default when unset
//   TF_API_URL               TF's config API (tungsten)
//   TF_AUTH_TOKEN            a Keystone token for TF, or the OS_* variables to get one:
//   OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME (default "Default")
//   VROUTER_AGENT_URL        the node's vRouter agent port API (default http://127.0.0.1:9091)
//   SPIFFE_ENDPOINT_SOCKET   the SPIFFE Workload API (the SPIRE agent): unix:///run/spire/sockets/agent.sock; its
//                            X.509-SVID makes every NSM hop mTLS and signs the path tokens (NSM has no insecure mode)
//   TFMESH_STATE_DIR         where connections and leases survive a restart (default /var/lib/networkservicemesh/tfmesh/<NSM_NAME>)
//   TFMESH_NODE_NETNS        the named netns the interfaces' host ends go to (default: this process's own, named if need be)
//   TFMESH_POD_NETNS_PREFIX  only client netns names with this prefix are touched (the lab's guard)
//   TFMESH_HEALTH_LISTEN_ON  a tcp://host:port for grpc.health.v1 probes beside NSM_LISTEN_ON
//   TFMESH_EXIT_ON_STDIN_EOF "1": exit when stdin closes (the lab daemon's children die with it)
import { parseGrpcTarget } from "../../wire/nsm/grpcTransport.ts";
import { checkK8sName } from "../../lib/validate/names.ts";
import { checkNetnsName } from "../../lib/validate/names.ts";

/** Every variable the program reads. */
export const FORWARDER_ENV = [
  "NSM_NAME",
  "NSM_CONNECT_TO",
  "NSM_LISTEN_ON",
  "NSM_LABELS",
  "NODE_NAME",
  "NSM_MAX_TOKEN_LIFETIME",
  "TF_API_URL",
  "TF_AUTH_TOKEN",
  "OS_AUTH_URL",
  "OS_USERNAME",
  "OS_PASSWORD",
  "OS_PROJECT_NAME",
  "OS_USER_DOMAIN_NAME",
  "VROUTER_AGENT_URL",
  "SPIFFE_ENDPOINT_SOCKET",
  "TFMESH_STATE_DIR",
  "TFMESH_NODE_NETNS",
  "TFMESH_POD_NETNS_PREFIX",
  "TFMESH_HEALTH_LISTEN_ON",
  "TFMESH_EXIT_ON_STDIN_EOF",
] as const;

export const FORWARDER_TYPES = ["tungsten", "kernel"] as const;
export type ForwarderType = (typeof FORWARDER_TYPES)[number];

export interface ForwarderConfig {
  name: string;
  type: ForwarderType;
  node: string;
  connectTo: string;
  listenOn: string;
  labels: Record<string, string>;
  lifetimeMs?: number;
  tf?: { url: string; token?: string; keystone?: { authUrl: string; username: string; password: string; project: string; domain: string } };
  agentUrl: string;
  /** The SPIFFE Workload API: unix:///path. */
  spiffeEndpoint: string;
  stateDir: string;
  nodeNetns?: string;
  podNetnsPrefix?: string;
  healthListenOn?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A Go duration of one unit ("500ms", "90s", "10m", "1h") in ms. */
export function parseDuration(value: string, variable: string): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw new ConfigError(`${variable} must be a duration like "10m", "90s" or "500ms", got "${value}"`);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (!(ms > 0)) throw new ConfigError(`${variable} must be positive, got "${value}"`);
  return ms;
}

/** NSM's label list "key:value,key:value". */
export function parseLabels(value: string, variable = "NSM_LABELS"): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of value.split(",").map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf(":");
    if (i <= 0) throw new ConfigError(`${variable}: "${part}" is not key:value (the list is "key:value,key:value")`);
    labels[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return labels;
}

function grpcTarget(value: string | undefined, variable: string): string {
  if (!value) throw new ConfigError(`${variable} is required (unix:///path or tcp://host:port)`);
  try {
    parseGrpcTarget(value);
  } catch (e) {
    throw new ConfigError(`${variable}: ${(e as Error).message}`);
  }
  return value;
}

function httpUrl(value: string, variable: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(`${variable} must be an http(s) URL, got "${value}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(`${variable} must be an http(s) URL, got "${value}"`);
  return value.replace(/\/+$/, "");
}

export function forwarderConfig(env: NodeJS.ProcessEnv): ForwarderConfig {
  const name = env.NSM_NAME;
  if (!name || !/^[A-Za-z0-9][A-Za-z0-9@._-]{0,252}$/.test(name)) throw new ConfigError(`NSM_NAME must be 1..253 characters from [A-Za-z0-9@._-], got "${name ?? ""}"`);
  const node = env.NODE_NAME;
  const nodeProblem = checkK8sName(node);
  if (nodeProblem) throw new ConfigError(`NODE_NAME: ${nodeProblem}`);
  const labels = parseLabels(env.NSM_LABELS ?? "");
  const type = labels.type;
  if (!FORWARDER_TYPES.includes(type as ForwarderType)) {
    throw new ConfigError(`NSM_LABELS must say the forwarder's type as type:${FORWARDER_TYPES.join(" or type:")}, got "${env.NSM_LABELS ?? ""}"`);
  }
  if (labels.node !== undefined && labels.node !== node) throw new ConfigError(`NSM_LABELS says node:${labels.node}, but NODE_NAME is "${node}"`);
  const lifetimeMs = env.NSM_MAX_TOKEN_LIFETIME ? parseDuration(env.NSM_MAX_TOKEN_LIFETIME, "NSM_MAX_TOKEN_LIFETIME") : undefined;
  let tf: ForwarderConfig["tf"];
  if (type === "tungsten") {
    if (!env.TF_API_URL) throw new ConfigError("TF_API_URL is required for the tungsten forwarder (TF's config API, e.g. http://tf-config:8082)");
    const keystone = env.OS_AUTH_URL
      ? {
          authUrl: httpUrl(env.OS_AUTH_URL, "OS_AUTH_URL"),
          username: required(env, "OS_USERNAME"),
          password: required(env, "OS_PASSWORD"),
          project: required(env, "OS_PROJECT_NAME"),
          domain: env.OS_USER_DOMAIN_NAME || "Default",
        }
      : undefined;
    tf = { url: httpUrl(env.TF_API_URL, "TF_API_URL"), ...(env.TF_AUTH_TOKEN ? { token: env.TF_AUTH_TOKEN } : {}), ...(keystone ? { keystone } : {}) };
  }
  for (const v of ["TFMESH_NODE_NETNS"] as const) {
    const problem = env[v] ? checkNetnsName(env[v]) : undefined;
    if (problem) throw new ConfigError(`${v}: ${problem}`);
  }
  return {
    name,
    type: type as ForwarderType,
    node: node as string,
    connectTo: grpcTarget(env.NSM_CONNECT_TO, "NSM_CONNECT_TO"),
    listenOn: grpcTarget(env.NSM_LISTEN_ON, "NSM_LISTEN_ON"),
    labels: { ...labels, node: node as string },
    ...(lifetimeMs ? { lifetimeMs } : {}),
    ...(tf ? { tf } : {}),
    agentUrl: httpUrl(env.VROUTER_AGENT_URL || "http://127.0.0.1:9091", "VROUTER_AGENT_URL"),
    spiffeEndpoint: spiffeEndpoint(env.SPIFFE_ENDPOINT_SOCKET),
    stateDir: env.TFMESH_STATE_DIR || `/var/lib/networkservicemesh/tfmesh/${name}`,
    ...(env.TFMESH_NODE_NETNS ? { nodeNetns: env.TFMESH_NODE_NETNS } : {}),
    ...(env.TFMESH_POD_NETNS_PREFIX ? { podNetnsPrefix: env.TFMESH_POD_NETNS_PREFIX } : {}),
    ...(env.TFMESH_HEALTH_LISTEN_ON ? { healthListenOn: grpcTarget(env.TFMESH_HEALTH_LISTEN_ON, "TFMESH_HEALTH_LISTEN_ON") } : {}),
  };
}

function spiffeEndpoint(v: string | undefined): string {
  if (!v) {
    throw new ConfigError("SPIFFE_ENDPOINT_SOCKET is required: the SPIRE agent's Workload API (e.g. unix:///run/spire/sockets/agent.sock), whose X.509-SVID secures every NSM hop");
  }
  if (!v.startsWith("unix:///")) throw new ConfigError(`SPIFFE_ENDPOINT_SOCKET must be unix:///path (a SPIFFE Workload API socket), got ${JSON.stringify(v)}`);
  return v;
}

function required(env: NodeJS.ProcessEnv, variable: string): string {
  const v = env[variable];
  if (!v) throw new ConfigError(`${variable} is required with OS_AUTH_URL`);
  return v;
}
