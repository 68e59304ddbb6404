// The provider process's view of the world: the stack config handed to `configure`, the settings
// resolved from it, and one set of API clients shared by every resource in the process.
import type * as pulumi from "@pulumi/pulumi";
import { ConnectionError } from "../../lib/http/client.ts";
import { loadKubeconfig } from "../../wire/kubeconfig.ts";
import { KubernetesClient } from "../../wire/kubernetes.ts";
import { KUBECONFIG_HINT, LAB_START_HINT, resolveSettings } from "../../wire/settings.ts";
import type { ConfigGetter, Settings } from "../../wire/settings.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { isNsmUnreachable } from "../../wire/nsm/grpcErrors.ts";
import { OpenStackClient } from "../../wire/openstack/index.ts";
import type { ClientOptions } from "../../wire/openstack/index.ts";
import { TfClient } from "../../wire/tf.ts";
import { VrouterAgentClient } from "../../wire/vrouterAgent.ts";

export interface Clients {
  tf: TfClient;
  openstack: OpenStackClient;
  /** NSM's gRPC API: Request, Close and the monitor of the NSMgr, the registry's Register, Find, Unregister. */
  nsm: NsmGrpcClient;
  /** The Kubernetes API server pods live in; loaded on first use, so stacks without pods need no kubeconfig. */
  kube(): KubernetesClient;
}

let configGetter: ConfigGetter | undefined;
let settingsCache: Settings | undefined;
const clientCache = new Map<string, Clients>();

/** Called by every provider's `configure` with the stack config (once per process and provider text). */
export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  configGetter = (key) => req.config.get(key);
  reset();
}

/** For tests: use this config (or none) and forget cached settings and clients. */
export function useConfig(getter: ConfigGetter | undefined): void {
  configGetter = getter;
  reset();
}

function reset(): void {
  // Old clients are not disposed: an operation of another resource may still be using them (their
  // idle HTTP/2 connection to NSM closes by itself and does not hold the process).
  settingsCache = undefined;
  clientCache.clear();
  agentCache.clear();
}

const agentCache = new Map<string, VrouterAgentClient>();

/**
 * The vRouter agent of a compute node (its port API), from the settings' agents map
 * (tfmesh:agents, TFMESH_AGENTS, the lab's endpoints.json); undefined for a node it does not list.
 * Node-local on a real cloud: a provider that cannot reach it gets a ConnectionError.
 */
export function agentClient(node: string): VrouterAgentClient | undefined {
  const url = settings().agents[node];
  if (!url) return undefined;
  let c = agentCache.get(node);
  if (!c) agentCache.set(node, (c = new VrouterAgentClient({ baseUrl: url, retries: 1, timeoutMs: 5000 })));
  return c;
}

export function settings(): Settings {
  settingsCache ??= resolveSettings({ config: configGetter ?? (() => undefined), env: process.env });
  return settingsCache;
}

function build(opts: ClientOptions): Clients {
  return connect(settings(), configGetter ?? (() => undefined), opts);
}

/** API clients for these settings; `config` is read for `tfmesh:tfAuth`. */
export function connect(s: Settings, config: ConfigGetter, opts: ClientOptions): Clients {
  const openstack = new OpenStackClient(s.openstack, opts);
  const tfAuth = config("tfmesh:tfAuth") ?? process.env.TFMESH_TF_AUTH ?? (s.openstack.password ? "keystone" : "none");
  const token = tfAuth === "keystone" ? { token: () => openstack.keystone.token() } : {};
  return {
    openstack,
    tf: new TfClient({
      baseUrl: s.tfApiUrl,
      ...token,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
      unreachableHint: LAB_START_HINT,
    }),
    nsm: new NsmGrpcClient(s.nsmTarget, {
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      retries: opts.retries ?? 3,
      unreachableHint: opts.unreachableHint ?? LAB_START_HINT,
      ...(s.spiffeEndpoint ? { spiffe: s.spiffeEndpoint } : {}),
    }),
    kube: once(() => kubernetesClient(s, opts)),
  };
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** The API server of the settings' kubeconfig (the lab's admin one by default); fails saying where it looked. */
function kubernetesClient(s: Settings, opts: ClientOptions): KubernetesClient {
  if (!s.kubernetes) throw new Error(`no Kubernetes cluster to find pods in: ${KUBECONFIG_HINT}`);
  const k = loadKubeconfig(s.kubernetes.kubeconfig, { origin: s.kubernetes.origin, ...(s.kubernetes.context ? { context: s.kubernetes.context } : {}) });
  return new KubernetesClient({
    ...k.options,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    ...(opts.unreachableHint !== undefined ? { unreachableHint: opts.unreachableHint } : {}),
  });
}

/** Options of the patient clients: retries and long timeouts, and the hint to start the lab. */
export const LAB_START_HINT_OPTIONS: ClientOptions = { unreachableHint: LAB_START_HINT };

/** Clients for create/read/update/delete: patient (retries, long timeouts). */
export function clients(): Clients {
  let c = clientCache.get("full");
  if (!c) clientCache.set("full", (c = build(LAB_START_HINT_OPTIONS)));
  return c;
}

/** Clients for lookups during check: one quick attempt, so a preview without the lab stays fast. */
export function quickClients(): Clients {
  let c = clientCache.get("quick");
  if (!c) clientCache.set("quick", (c = build({ unreachableHint: LAB_START_HINT, retries: 0, timeoutMs: 5000 })));
  return c;
}

export type Lookup<T> = { status: "ok"; value: T } | { status: "unreachable" } | { status: "failed"; message: string };

/**
 * Runs a lookup for check: "unreachable" when the API cannot be reached (a preview without the
 * lab still validates syntax), "failed" with the error's message for any other error (so check
 * reports it as a failure instead of a stack trace), else the value.
 */
export async function lookup<T>(fn: () => Promise<T>): Promise<Lookup<T>> {
  try {
    return { status: "ok", value: await fn() };
  } catch (err) {
    if (err instanceof ConnectionError || isNsmUnreachable(err)) return { status: "unreachable" };
    return { status: "failed", message: (err as Error).message ?? String(err) };
  }
}

/** Progress lines for long operations: the engine relays provider stderr as info diagnostics. */
export function progress(message: string): void {
  process.stderr.write(`tfmesh: ${message}\n`);
}
