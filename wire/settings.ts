// Where the provider finds its endpoints and credentials. Each value is looked up in order:
// stack config (the `openstack:*` keys @pulumi/openstack uses, `tfmesh:*` for the rest), the
// environment (OS_* as openstack clients use, TFMESH_*), the running lab's endpoints.json, and
// finally the lab's default ports. Kubernetes is found as @pulumi/kubernetes users expect: stack
// config `kubernetes:kubeconfig` (a path or the content), then KUBECONFIG, then the lab's
// kubeconfig; it is only needed by what talks to pods, so a missing one fails there. Credentials come only from here, never from resource inputs,
// so they never land in plain state.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const LAB_START_HINT = "Is the lab running? Start it with `npx tfmesh lab up` (or point tfmesh:* / openstack:* stack config at your clusters)";

/** Reads one stack config value by full key ("openstack:authUrl"); undefined when unset. */
export type ConfigGetter = (key: string) => string | undefined;

export interface OpenStackSettings {
  authUrl: string;
  userName: string;
  password: string | undefined;
  tenantName: string;
  userDomainName: string;
  projectDomainName: string;
  region: string | undefined;
}

export interface Settings {
  tfApiUrl: string;
  /** NSM's gRPC API (the NSMgr), as NSM_CONNECT_TO names it: tcp://host:port or unix:///path. */
  nsmTarget: string;
  /**
   * The SPIFFE Workload API whose X.509-SVID secures NSM's gRPC API (mTLS, path tokens): stack config
   * tfmesh:spiffeEndpointSocket, SPIFFE_ENDPOINT_SOCKET, the lab's; undefined: cleartext (no SPIRE).
   */
  spiffeEndpoint: string | undefined;
  /** The Kubernetes cluster pods live in; undefined when no kubeconfig was found (see kubernetesSource). */
  kubernetes: KubeconfigSource | undefined;
  /** vRouter agent port API per compute node name. */
  agents: Record<string, string>;
  openstack: OpenStackSettings;
  /** The endpoints.json the defaults came from, when one was read. */
  endpointsFile: string | undefined;
}

/** A kubeconfig to load (wire/kubeconfig.ts): a path or the content, and where it was found. */
export interface KubeconfigSource {
  /** A file path or kubeconfig content (YAML or JSON). */
  kubeconfig: string;
  /** A context other than the kubeconfig's current one (stack config kubernetes:context). */
  context?: string;
  /** How the user set it: "stack config kubernetes:kubeconfig", "KUBECONFIG", "kubernetes.kubeconfig in <endpoints.json>". */
  origin: string;
}

/** Where the provider looks for a kubeconfig, for the error when there is none. */
export const KUBECONFIG_HINT =
  "set stack config kubernetes:kubeconfig (a path or the content), or KUBECONFIG, or start the lab with Kubernetes (its endpoints.json names kubernetes.kubeconfig)";

/** The lab's endpoints.json, as written by the lab daemon once healthy. */
export interface LabEndpoints {
  instance?: string;
  prefix?: string;
  tf?: string;
  keystone?: string;
  nova?: string;
  neutron?: string;
  glance?: string;
  nsm?: string;
  /** NSM's gRPC API: tcp://127.0.0.1:<port>. */
  nsmGrpc?: string;
  /** The lab's own API (status, topology). */
  lab?: string;
  /** The lab's Kubernetes API server and the admin kubeconfig (JSON) beside endpoints.json. */
  kubernetes?: { server: string; kubeconfig: string };
  agents?: Record<string, string>;
  /** The lab's SPIRE agent Workload API: unix:///<stateDir>/spire/agent.sock. */
  spiffe?: string;
  credentials?: { username?: string; password?: string; project?: string; domain?: string };
}

const LAB_DEFAULTS = {
  tf: "http://127.0.0.1:8082",
  keystone: "http://127.0.0.1:5000/v3",
  nsmGrpc: "tcp://127.0.0.1:5003",
  /** The default nodes; the lab serves their agents on root-only unix sockets beside endpoints.json (no TCP port). */
  agentNodes: ["compute-1", "compute-2", "k8s-1", "k8s-2"],
  credentials: { username: "admin", project: "admin", domain: "Default" },
};

/** Where a lab whose endpoints.json would be `file` serves its default nodes' agents. */
function labAgentSockets(file: string): Record<string, string> {
  const dir = dirname(file);
  return Object.fromEntries(LAB_DEFAULTS.agentNodes.map((node) => [node, `unix://${join(dir, "sock", `agent-${node}.sock`)}`]));
}

/** The endpoints.json path: TFMESH_ENDPOINTS, else <TFMESH_HOME or ~/.tfmesh>/lab/<instance>/endpoints.json. */
export function endpointsFilePath(env: NodeJS.ProcessEnv, config: ConfigGetter = () => undefined): string {
  const explicit = config("tfmesh:endpointsFile") ?? env.TFMESH_ENDPOINTS;
  if (explicit) return explicit;
  const home = env.TFMESH_HOME ?? join(homedir(), ".tfmesh");
  const instance = config("tfmesh:labInstance") ?? env.TFMESH_LAB_INSTANCE ?? "default";
  return join(home, "lab", instance, "endpoints.json");
}

/** Reads endpoints.json; undefined when it does not exist (lab not started). Malformed files throw. */
export function readLabEndpoints(path: string): LabEndpoints | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as LabEndpoints;
  } catch (err) {
    throw new Error(`lab endpoints file ${path} is not valid: ${(err as Error).message}`);
  }
}

function parseAgents(raw: string, origin: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${origin} must be a JSON object of node name to agent URL, got ${JSON.stringify(raw)}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== "string")) {
    throw new Error(`${origin} must be a JSON object of node name to agent URL`);
  }
  return parsed as Record<string, string>;
}

/** Why `target` is not a gRPC target NSM takes (tcp://host:port, unix:///path), or undefined. */
export function checkGrpcTarget(target: string): string | undefined {
  const example = "tcp://host:port or unix:///path (as NSM_CONNECT_TO)";
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return `must be ${example}, got ${JSON.stringify(target)}`;
  }
  if (url.protocol === "unix:") {
    return url.host === "" && url.pathname.startsWith("/") && url.pathname.length > 1 ? undefined : `must name an absolute socket path, unix:///path, got ${JSON.stringify(target)}`;
  }
  if (url.protocol !== "tcp:") return `must be ${example}, got ${JSON.stringify(target)}`;
  if (!url.hostname || !url.port || (url.pathname !== "" && url.pathname !== "/") || url.search || url.username) {
    return `must be tcp://host:port with a host and a port and nothing after them, got ${JSON.stringify(target)}`;
  }
  return undefined;
}

/** The keys of the JSON NSM API the provider no longer speaks: set, they fail with what to set instead. */
const NSM_HINT = (instead: string) =>
  `tfmesh speaks NSM's gRPC API now, not the lab's JSON one; set ${instead} to the NSMgr's gRPC target (tcp://host:port or unix:///path, as NSM_CONNECT_TO; the lab's is its nsmGrpc endpoint, tcp://127.0.0.1:5003 by default)`;
const PODS_HINT = "pods are Kubernetes pods now (the lab's pod API is gone): tfmesh finds the cluster through stack config kubernetes:kubeconfig, KUBECONFIG, or the lab's kubeconfig";

/** Keys the provider no longer reads: set, they fail with what to set instead. */
const RETIRED_KEYS: Array<{ key: string; origin: "config" | "env"; why: string }> = [
  { key: "tfmesh:nsmUrl", origin: "config", why: NSM_HINT("tfmesh:nsmConnectTo") },
  { key: "TFMESH_NSM_URL", origin: "env", why: NSM_HINT("TFMESH_NSM_CONNECT_TO") },
  { key: "tfmesh:podsUrl", origin: "config", why: PODS_HINT },
  { key: "TFMESH_PODS_URL", origin: "env", why: PODS_HINT },
];

function refuseRetiredKeys(config: ConfigGetter, env: NodeJS.ProcessEnv): void {
  for (const { key, origin, why } of RETIRED_KEYS) {
    const value = origin === "config" ? config(key) : env[key];
    if (value === undefined || value === "") continue;
    throw new Error(`${key} is no longer read: remove it. ${why}`);
  }
}

/**
 * The kubeconfig, in the order @pulumi/kubernetes users expect: stack config
 * kubernetes:kubeconfig, then the first existing file of KUBECONFIG (a list, as kubectl reads
 * it), then the lab's. Undefined when there is none.
 */
export function kubernetesSource(config: ConfigGetter, env: NodeJS.ProcessEnv, lab: LabEndpoints | undefined, endpointsFile: string): KubeconfigSource | undefined {
  const context = config("kubernetes:context") || undefined;
  const withContext = (src: KubeconfigSource): KubeconfigSource => (context ? { ...src, context } : src);
  const fromConfig = config("kubernetes:kubeconfig");
  if (fromConfig) return withContext({ kubeconfig: fromConfig, origin: "stack config kubernetes:kubeconfig" });
  const listed = (env.KUBECONFIG ?? "").split(":").filter((p) => p !== "");
  const file = listed.find((p) => existsSync(p));
  if (file) return withContext({ kubeconfig: file, origin: "KUBECONFIG" });
  if (lab?.kubernetes?.kubeconfig) return withContext({ kubeconfig: lab.kubernetes.kubeconfig, origin: `kubernetes.kubeconfig in ${endpointsFile}` });
  return undefined;
}

/** Where the NSM target came from, named as the user sets it. */
function nsmTargetOrigin(config: ConfigGetter, env: NodeJS.ProcessEnv, endpointsFile: string | undefined): string {
  const fromConfig = config("tfmesh:nsmConnectTo");
  if (fromConfig !== undefined && fromConfig !== "") return "tfmesh:nsmConnectTo";
  for (const name of ["TFMESH_NSM_CONNECT_TO", "NSM_CONNECT_TO"]) if (env[name]) return name;
  return endpointsFile ? `nsmGrpc in ${endpointsFile}` : "the NSM target";
}

export interface ResolveOptions {
  config?: ConfigGetter;
  env?: NodeJS.ProcessEnv;
}

function spiffeEndpoint(v: string | undefined, config: ConfigGetter, env: NodeJS.ProcessEnv): string | undefined {
  if (v === undefined || v.startsWith("unix:///")) return v;
  const origin = config("tfmesh:spiffeEndpointSocket") ? "tfmesh:spiffeEndpointSocket" : env.SPIFFE_ENDPOINT_SOCKET ? "SPIFFE_ENDPOINT_SOCKET" : "the lab's endpoints.json spiffe";
  throw new Error(`${origin} must be unix:///path (the SPIRE agent's Workload API socket, e.g. unix:///run/spire/sockets/agent.sock), got ${JSON.stringify(v)}`);
}

/** Resolves every endpoint and credential (see the file comment for the order). */
export function resolveSettings(opts: ResolveOptions = {}): Settings {
  const config = opts.config ?? (() => undefined);
  const env = opts.env ?? process.env;
  const file = endpointsFilePath(env, config);
  const lab = readLabEndpoints(file);
  const pick = (key: string, envNames: string[], labValue: string | undefined, fallback: string): string =>
    pickOptional(key, envNames, labValue) ?? fallback;
  const pickOptional = (key: string, envNames: string[], labValue: string | undefined): string | undefined => {
    const fromConfig = config(key);
    if (fromConfig !== undefined && fromConfig !== "") return fromConfig;
    for (const name of envNames) if (env[name]) return env[name];
    return labValue;
  };

  const agentsRaw = config("tfmesh:agents") ?? env.TFMESH_AGENTS;
  const agents = agentsRaw
    ? parseAgents(agentsRaw, config("tfmesh:agents") !== undefined ? "tfmesh:agents" : "TFMESH_AGENTS")
    : (lab?.agents ?? labAgentSockets(file));
  const creds = lab?.credentials ?? {};
  refuseRetiredKeys(config, env);
  const nsmTarget = pick("tfmesh:nsmConnectTo", ["TFMESH_NSM_CONNECT_TO", "NSM_CONNECT_TO"], lab?.nsmGrpc, LAB_DEFAULTS.nsmGrpc);
  const badTarget = checkGrpcTarget(nsmTarget);
  if (badTarget) throw new Error(`${nsmTargetOrigin(config, env, lab?.nsmGrpc !== undefined ? file : undefined)} ${badTarget}`);

  return {
    tfApiUrl: pick("tfmesh:tfApiUrl", ["TFMESH_TF_API_URL"], lab?.tf, LAB_DEFAULTS.tf),
    nsmTarget,
    spiffeEndpoint: spiffeEndpoint(pickOptional("tfmesh:spiffeEndpointSocket", ["SPIFFE_ENDPOINT_SOCKET"], lab?.spiffe), config, env),
    kubernetes: kubernetesSource(config, env, lab, file),
    agents,
    openstack: {
      authUrl: pick("openstack:authUrl", ["OS_AUTH_URL"], lab?.keystone, LAB_DEFAULTS.keystone),
      userName: pick("openstack:userName", ["OS_USERNAME"], creds.username, LAB_DEFAULTS.credentials.username),
      password: pickOptional("openstack:password", ["OS_PASSWORD"], creds.password),
      tenantName: pick("openstack:tenantName", ["OS_PROJECT_NAME", "OS_TENANT_NAME"], creds.project, LAB_DEFAULTS.credentials.project),
      userDomainName: pick("openstack:userDomainName", ["OS_USER_DOMAIN_NAME"], creds.domain, LAB_DEFAULTS.credentials.domain),
      projectDomainName: pick("openstack:projectDomainName", ["OS_PROJECT_DOMAIN_NAME"], creds.domain, LAB_DEFAULTS.credentials.domain),
      region: pickOptional("openstack:region", ["OS_REGION_NAME"], undefined),
    },
    endpointsFile: lab ? file : undefined,
  };
}
