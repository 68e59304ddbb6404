// Where the provider finds its endpoints and credentials. Each value is looked up in order:
// stack config (the `openstack:*` keys @pulumi/openstack uses, `tfmesh:*` for the rest), the
// environment (OS_* as openstack clients use, TFMESH_*), the running lab's endpoints.json, and
// finally the lab's default ports. Credentials come only from here, never from resource inputs,
// so they never land in plain state.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

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
  nsmUrl: string;
  podsUrl: string;
  /** vRouter agent port API per compute node name. */
  agents: Record<string, string>;
  openstack: OpenStackSettings;
  /** The endpoints.json the defaults came from, when one was read. */
  endpointsFile: string | undefined;
}

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
  pods?: string;
  agents?: Record<string, string>;
  credentials?: { username?: string; password?: string; project?: string; domain?: string };
}

const LAB_DEFAULTS = {
  tf: "http://127.0.0.1:8082",
  keystone: "http://127.0.0.1:5000/v3",
  nsm: "http://127.0.0.1:5001",
  pods: "http://127.0.0.1:5002",
  agents: {
    "compute-1": "http://127.0.0.1:9091",
    "compute-2": "http://127.0.0.1:9092",
    "k8s-1": "http://127.0.0.1:9093",
    "k8s-2": "http://127.0.0.1:9094",
  },
  credentials: { username: "admin", project: "admin", domain: "Default" },
};

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

export interface ResolveOptions {
  config?: ConfigGetter;
  env?: NodeJS.ProcessEnv;
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
    : (lab?.agents ?? LAB_DEFAULTS.agents);
  const creds = lab?.credentials ?? {};

  return {
    tfApiUrl: pick("tfmesh:tfApiUrl", ["TFMESH_TF_API_URL"], lab?.tf, LAB_DEFAULTS.tf),
    nsmUrl: pick("tfmesh:nsmUrl", ["TFMESH_NSM_URL"], lab?.nsm, LAB_DEFAULTS.nsm),
    podsUrl: pick("tfmesh:podsUrl", ["TFMESH_PODS_URL"], lab?.pods, LAB_DEFAULTS.pods),
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
