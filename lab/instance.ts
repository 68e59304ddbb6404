// Which lab instance we are talking about: its name, kernel prefix, state dir, ports, nodes and
// admin credentials. The first resolution of an instance is stored in <stateDir>/instance.json so
// that every later start (and the CLI) sees the same ports, prefix and password.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { checkIfName, checkK8sName, checkNetnsName } from "../lib/validate/names.ts";
import { isLabStateFile } from "./stateFiles.ts";

export interface LabPorts {
  tf: number;
  keystone: number;
  nova: number;
  neutron: number;
  glance: number;
  nsm: number;
  /** NSM's gRPC API (the JSON API is on `nsm`). */
  nsmGrpc: number;
  /** The lab's own read-only API: /lab/health, /lab/status, /lab/topology. */
  lab: number;
  /** Agent i (computeNodes then k8sNodes) listens on agentBase + i. */
  agentBase: number;
  /** The SPIRE server's (lab/spire): agents reach it here. Instances stored before SPIRE get one at their next resolution. */
  spireServer?: number;
  /** The Kubernetes control plane's (lab/kube), set when the instance runs it. */
  kubeApiserver?: number;
  etcd?: number;
  etcdPeer?: number;
  kubeControllerManager?: number;
  kubeScheduler?: number;
}

export const KUBE_PORT_KEYS = ["kubeApiserver", "etcd", "etcdPeer", "kubeControllerManager", "kubeScheduler"] as const;
const DEFAULT_KUBE_PORTS = { kubeApiserver: 6443, etcd: 2379, etcdPeer: 2380, kubeControllerManager: 10257, kubeScheduler: 10259 };

export interface LabCredentials {
  username: "admin";
  password: string;
  project: "admin";
  domain: "Default";
}

export interface LabInstanceConfig {
  name: string;
  prefix: string;
  stateDir: string;
  ports: LabPorts;
  computeNodes: string[];
  k8sNodes: string[];
  auth: "keystone" | "noauth";
  credentials: LabCredentials;
  /** Whether the lab runs a Kubernetes control plane and is the kubelet of its k8s nodes (lab/kube). */
  kubernetes?: boolean;
}

export interface LabInstanceOptions {
  name?: string;
  prefix?: string;
  stateDir?: string;
  /** "auto" picks free 127.0.0.1 ports once; they are kept for later starts. */
  ports?: Partial<LabPorts> | "auto";
  computeNodes?: string[];
  k8sNodes?: string[];
  auth?: "keystone" | "noauth";
  /** Run the Kubernetes control plane (default off); an existing instance can be switched on. */
  kubernetes?: boolean;
}

export interface LabNode {
  name: string;
  kind: "compute" | "k8s";
  /** Position in computeNodes ++ k8sNodes: underlay ip 172.31.0.<10+index>, agent port agentBase+index. */
  index: number;
  ip: string;
}

export const DEFAULT_INSTANCE = "default";
export const DEFAULT_PREFIX = "tfm";
export const DEFAULT_PORTS: LabPorts = {
  tf: 8082,
  keystone: 5000,
  nova: 8774,
  neutron: 9696,
  glance: 9292,
  nsm: 5001,
  nsmGrpc: 5003,
  lab: 5002,
  agentBase: 9091,
  spireServer: 8081,
};
const DEFAULT_COMPUTE_NODES = ["compute-1", "compute-2"];
const DEFAULT_K8S_NODES = ["k8s-1", "k8s-2"];
const INSTANCE_FILE = "instance.json";

/** A bad instance option; the message says which option and why. */
export class InstanceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstanceConfigError";
  }
}

const PREFIX = /^[a-z][a-z0-9]{0,5}$/;
const NODE_NAME = /^[a-z][a-z0-9-]*$/;
const RESERVED_NODE_NAMES = new Set(["underlay"]);

/** Instance names are DNS-1123 labels of at most 24 characters (they name state dirs and show in netns-free places). */
export function checkInstanceName(name: string): string | undefined {
  const problem = checkK8sName(name);
  if (problem) return `instance ${problem}`;
  if (name.length > 24) return `instance name "${name}" is ${name.length} characters; at most 24 are allowed`;
  return undefined;
}

/** The prefix starts every netns name of the instance; no "-" in it keeps "<prefix>-" unambiguous. */
export function checkPrefix(prefix: string): string | undefined {
  if (!PREFIX.test(prefix)) return `prefix "${prefix}" must be a lowercase letter followed by at most 5 of a-z, 0-9 (it starts every netns name)`;
  return checkNetnsName(`${prefix}-underlay`);
}

/** Node names end up in the switch-side interface "u-<node>" and in the netns "<prefix>-<node>". */
export function checkNodeName(node: string): string | undefined {
  if (!NODE_NAME.test(node) || node.endsWith("-")) return `node name "${node}" must be a lowercase letter followed by a-z, 0-9 and "-", not ending in "-"`;
  const ifProblem = checkIfName(`u-${node}`);
  if (ifProblem) return `node name "${node}" is too long for the underlay port "u-${node}": ${ifProblem}`;
  if (RESERVED_NODE_NAMES.has(node) || node.startsWith("vm-") || node.startsWith("pod-")) {
    return `node name "${node}" collides with the netns names of the underlay, VMs or pods`;
  }
  return checkNetnsName(`${DEFAULT_PREFIX}-${node}`);
}

function must(problem: string | undefined): void {
  if (problem) throw new InstanceConfigError(problem);
}

/** ~/.tfmesh, or $TFMESH_HOME. */
export function tfmeshHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.TFMESH_HOME && env.TFMESH_HOME.trim() !== "" ? path.resolve(env.TFMESH_HOME) : path.join(os.homedir(), ".tfmesh");
}

export function defaultStateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(tfmeshHome(env), "lab", name);
}

/** The default instance keeps "tfm"; others get a short stable prefix derived from the name. */
export function derivePrefix(name: string): string {
  if (name === DEFAULT_INSTANCE) return DEFAULT_PREFIX;
  const digest = BigInt("0x" + createHash("sha256").update(name).digest("hex").slice(0, 12));
  return "l" + digest.toString(36).padStart(5, "0").slice(-5);
}

export function labNodes(config: Pick<LabInstanceConfig, "computeNodes" | "k8sNodes">): LabNode[] {
  const all = [
    ...config.computeNodes.map((name) => ({ name, kind: "compute" as const })),
    ...config.k8sNodes.map((name) => ({ name, kind: "k8s" as const })),
  ];
  return all.map((n, index) => ({ ...n, index, ip: `172.31.0.${10 + index}` }));
}

export function agentPort(config: LabInstanceConfig, node: string): number {
  const n = labNodes(config).find((x) => x.name === node);
  if (!n) throw new InstanceConfigError(`no node "${node}" in instance ${config.name}`);
  return config.ports.agentBase + n.index;
}

function validateNodes(compute: string[], k8s: string[]): void {
  const all = [...compute, ...k8s];
  if (compute.length === 0 && k8s.length === 0) throw new InstanceConfigError("an instance needs at least one node");
  if (all.length > 200) throw new InstanceConfigError("at most 200 nodes fit the underlay 172.31.0.0/24");
  for (const n of all) must(checkNodeName(n));
  const dup = all.find((n, i) => all.indexOf(n) !== i);
  if (dup) throw new InstanceConfigError(`node name "${dup}" is used twice`);
}

function validatePorts(ports: LabPorts, nodeCount: number): void {
  const list: Array<[string, number]> = Object.entries(ports) as Array<[string, number]>;
  for (const [k, v] of list) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) throw new InstanceConfigError(`port ${k} must be an integer 1-65535, got ${v}`);
  }
  if (ports.agentBase + nodeCount - 1 > 65535) throw new InstanceConfigError(`agent ports ${ports.agentBase}+${nodeCount} run past 65535`);
  const used = new Map<number, string>();
  for (const [k, v] of list.filter(([k]) => k !== "agentBase")) used.set(v, k);
  for (let i = 0; i < nodeCount; i++) {
    const p = ports.agentBase + i;
    const clash = used.get(p);
    if (clash) throw new InstanceConfigError(`agent port ${p} (agentBase + ${i}) is also the ${clash} port`);
  }
  const seen = new Map<number, string>();
  for (const [k, v] of list.filter(([k]) => k !== "agentBase")) {
    if (seen.has(v)) throw new InstanceConfigError(`ports ${seen.get(v)} and ${k} are both ${v}`);
    seen.set(v, k);
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen({ port, host: "127.0.0.1", exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * The ports auto-picked ports come from: below the kernel's ephemeral range, so an outgoing
 * connection of some other program can never hold the port the daemon is about to listen on.
 */
function autoPortRange(): { low: number; high: number } {
  let ephemeralLow = 32768;
  try {
    const first = Number.parseInt(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0] ?? "", 10);
    if (Number.isInteger(first)) ephemeralLow = first;
  } catch {
    // not Linux, or no /proc: keep the usual default
  }
  return ephemeralLow > 12000 ? { low: 10000, high: ephemeralLow - 1 } : { low: 61000, high: 65535 };
}

/** Finds a run of `count` consecutive free 127.0.0.1 ports, at a random place to avoid parallel tests colliding. */
async function findFreePortRange(count: number, attempts = 200): Promise<number> {
  const { low, high } = autoPortRange();
  for (let a = 0; a < attempts; a++) {
    const base = low + Math.floor(Math.random() * (high - low + 1 - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new InstanceConfigError(`no ${count} consecutive free ports found on 127.0.0.1`);
}

async function autoPorts(nodeCount: number, kubernetes: boolean): Promise<LabPorts> {
  const base = await findFreePortRange(9 + nodeCount + (kubernetes ? KUBE_PORT_KEYS.length : 0));
  const agentBase = base + 7;
  const ports: LabPorts = {
    tf: base,
    keystone: base + 1,
    nova: base + 2,
    neutron: base + 3,
    glance: base + 4,
    nsm: base + 5,
    lab: base + 6,
    agentBase,
    nsmGrpc: agentBase + nodeCount,
    spireServer: agentBase + nodeCount + 1,
  };
  return kubernetes ? { ...ports, ...kubePortsFrom(agentBase + nodeCount + 2) } : ports;
}

function kubePortsFrom(base: number): Pick<Required<LabPorts>, (typeof KUBE_PORT_KEYS)[number]> {
  return { kubeApiserver: base, etcd: base + 1, etcdPeer: base + 2, kubeControllerManager: base + 3, kubeScheduler: base + 4 };
}

/** An instance switched to Kubernetes after its creation gets free ports for the control plane. */
async function withKubernetes(stored: LabInstanceConfig): Promise<LabInstanceConfig> {
  const ports = { ...stored.ports, ...kubePortsFrom(await findFreePortRange(KUBE_PORT_KEYS.length)) };
  const config = { ...stored, kubernetes: true, ports };
  validateConfig(config);
  storeInstance(config);
  return config;
}

/** An instance stored before the lab ran SPIRE gets a free port for its server, kept from then on. */
async function withSpirePort(stored: LabInstanceConfig): Promise<LabInstanceConfig> {
  const config = { ...stored, ports: { ...stored.ports, spireServer: await findFreePortRange(1) } };
  validateConfig(config);
  storeInstance(config);
  return config;
}

/** An instance stored before NSM's gRPC port existed gets the port after its agents' (as auto ports place it). */
function withNsmGrpcPort(c: LabInstanceConfig): LabInstanceConfig {
  if (!c.ports || c.ports.nsmGrpc !== undefined) return c;
  const nodeCount = (c.computeNodes?.length ?? 0) + (c.k8sNodes?.length ?? 0);
  return { ...c, ports: { ...c.ports, nsmGrpc: c.ports.agentBase + nodeCount } };
}

export function instanceFile(stateDir: string): string {
  return path.join(stateDir, INSTANCE_FILE);
}

/** The stored configuration of the instance in stateDir, or undefined when none was created there. */
export function loadInstance(stateDir: string): LabInstanceConfig | undefined {
  let text: string;
  try {
    text = fs.readFileSync(instanceFile(stateDir), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let stored: LabInstanceConfig;
  try {
    stored = JSON.parse(text) as LabInstanceConfig;
  } catch (e) {
    throw new InstanceConfigError(`${instanceFile(stateDir)} is not valid JSON (${(e as Error).message}); remove the state dir with "lab down --wipe"`);
  }
  const config = withNsmGrpcPort(withLabPort({ ...stored, stateDir: path.resolve(stateDir) }));
  validateConfig(config);
  return config;
}

/** Instances made before the pod API went kept the lab API's port under "pods". */
function withLabPort(c: LabInstanceConfig): LabInstanceConfig {
  const { pods, ...ports } = c.ports as LabPorts & { pods?: number };
  return pods !== undefined && ports.lab === undefined ? { ...c, ports: { ...ports, lab: pods } } : c;
}

function validateConfig(c: LabInstanceConfig): void {
  must(checkInstanceName(c.name));
  must(checkPrefix(c.prefix));
  validateNodes(c.computeNodes, c.k8sNodes);
  validatePorts(c.ports, c.computeNodes.length + c.k8sNodes.length);
  if (c.kubernetes !== undefined && typeof c.kubernetes !== "boolean") throw new InstanceConfigError(`kubernetes must be true or false, got ${JSON.stringify(c.kubernetes)}`);
  if (c.kubernetes) {
    const missing = KUBE_PORT_KEYS.filter((k) => c.ports[k] === undefined);
    if (missing.length > 0) throw new InstanceConfigError(`an instance with kubernetes needs the ports ${missing.join(", ")}`);
  }
  if (c.auth !== "keystone" && c.auth !== "noauth") throw new InstanceConfigError(`auth must be "keystone" or "noauth", got ${JSON.stringify(c.auth)}`);
  if (!c.credentials || typeof c.credentials.password !== "string" || c.credentials.password === "") {
    throw new InstanceConfigError("stored instance has no admin password");
  }
}

/** Where options point, without touching the disk. */
export function locateInstance(opts: Pick<LabInstanceOptions, "name" | "stateDir"> = {}, env: NodeJS.ProcessEnv = process.env) {
  const name = opts.name ?? DEFAULT_INSTANCE;
  must(checkInstanceName(name));
  const stateDir = path.resolve(opts.stateDir ?? defaultStateDir(name, env));
  return { name, stateDir };
}

/**
 * The instance the options describe. An instance stored in the state dir wins (its ports and password
 * stay stable); options that contradict it are refused rather than silently ignored.
 * With `create`, a new instance is written to the state dir; without it, an unstored instance is
 * described from the options and defaults only.
 */
export async function resolveInstance(
  opts: LabInstanceOptions = {},
  { create = true, env = process.env }: { create?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<LabInstanceConfig> {
  const { name, stateDir } = locateInstance(opts, env);
  if (opts.prefix !== undefined) must(checkPrefix(opts.prefix));
  const stored = loadInstance(stateDir);
  if (stored) {
    const clash = (what: string, given: unknown, have: unknown) => {
      throw new InstanceConfigError(`${stateDir} holds instance "${stored.name}" with ${what} ${JSON.stringify(have)}, not ${JSON.stringify(given)}`);
    };
    if (opts.name !== undefined && opts.name !== stored.name) clash("name", opts.name, stored.name);
    if (opts.prefix !== undefined && opts.prefix !== stored.prefix) clash("prefix", opts.prefix, stored.prefix);
    if (opts.auth !== undefined && opts.auth !== stored.auth) clash("auth", opts.auth, stored.auth);
    if (opts.computeNodes && opts.computeNodes.join() !== stored.computeNodes.join()) clash("compute nodes", opts.computeNodes, stored.computeNodes);
    if (opts.k8sNodes && opts.k8sNodes.join() !== stored.k8sNodes.join()) clash("k8s nodes", opts.k8sNodes, stored.k8sNodes);
    if (opts.ports && opts.ports !== "auto") {
      for (const [k, v] of Object.entries(opts.ports)) {
        if (v !== undefined && stored.ports[k as keyof LabPorts] !== v) clash(`port ${k}`, v, stored.ports[k as keyof LabPorts]);
      }
    }
    const current = stored.ports.spireServer === undefined ? await withSpirePort(stored) : stored;
    if (opts.kubernetes === true && !current.kubernetes) return withKubernetes(current);
    return current;
  }

  const computeNodes = opts.computeNodes ?? [...DEFAULT_COMPUTE_NODES];
  const k8sNodes = opts.k8sNodes ?? [...DEFAULT_K8S_NODES];
  validateNodes(computeNodes, k8sNodes);
  const nodeCount = computeNodes.length + k8sNodes.length;
  const kubernetes = opts.kubernetes === true;
  const ports = opts.ports === "auto" ? await autoPorts(nodeCount, kubernetes) : { ...DEFAULT_PORTS, ...(kubernetes ? DEFAULT_KUBE_PORTS : {}), ...opts.ports };
  const config: LabInstanceConfig = {
    name,
    prefix: opts.prefix ?? derivePrefix(name),
    stateDir,
    ports,
    computeNodes,
    k8sNodes,
    auth: opts.auth ?? "keystone",
    credentials: { username: "admin", password: randomBytes(18).toString("base64url"), project: "admin", domain: "Default" },
    ...(kubernetes ? { kubernetes } : {}),
  };
  validateConfig(config);
  if (create) storeInstance(config);
  return config;
}

/** Writes instance.json (owner-only: it holds the admin password). Refuses a non-empty foreign dir. */
function storeInstance(config: LabInstanceConfig): void {
  fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const file = instanceFile(config.stateDir);
  if (!fs.existsSync(file)) {
    const foreign = fs.readdirSync(config.stateDir).filter((f) => !isLabStateFile(f));
    if (foreign.length > 0) {
      throw new InstanceConfigError(`state dir ${config.stateDir} already holds files that are not lab state (${foreign.slice(0, 3).join(", ")}); choose an empty directory`);
    }
  }
  const { stateDir: _dir, ...stored } = config;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(stored, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}
