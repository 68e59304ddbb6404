// `tfmesh forwarder`: one NSM forwarder (tungsten or kernel) for the node it runs on, as a process
// of its own. It serves NSM's gRPC API on NSM_LISTEN_ON, registers with the node's NSMgr (and keeps
// the registration fresh), reaches TF's config API and the node's vRouter agent over HTTP, and
// builds interfaces in client netns. Its connections and leases live in TFMESH_STATE_DIR, so a
// restart finds them again; SIGTERM unregisters, closes the server and exits 0.
import fs from "node:fs";
import { keepSessions, netns } from "../../lib/kernel/index.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { NsmError } from "../errors.ts";
import type { Forwarder } from "../forwarder.ts";
import type { PodPlacement } from "../forwarders/common/clientNetns.ts";
import { linuxKernel } from "../forwarders/common/kernelOps.ts";
import type { ConnectionStore } from "../manager.ts";
import { interfaceNameOf, netnsOf } from "../mechanism.ts";
import { namedNetns, namespaceIdOf } from "../netnsUrl.ts";
import { forwarderConfig } from "./config.ts";
import type { ForwarderConfig } from "./config.ts";
import { fileConnectionStore, fileLeaseStore } from "./fileStore.ts";
import { createForwarderGrpcServer } from "./grpcServer.ts";
import type { ForwarderGrpcServer } from "./grpcServer.ts";
import { Registration } from "./registration.ts";
import { X509Source } from "../../wire/spiffe/x509Source.ts";
import { ForwarderService } from "./service.ts";

/** The name this forwarder gives its own netns when it has none (a hostNetwork pod's is the node's). */
const OWN_NETNS_NAME = "tfmesh-node";

export interface RunningForwarder {
  config: ForwarderConfig;
  service: ForwarderService;
  server: ForwarderGrpcServer;
  registration: Registration;
  /** Unregisters, stops serving, drops the NSMgr connection. */
  stop(): Promise<void>;
}

/** The named netns the host ends go to: TFMESH_NODE_NETNS, else this process's own netns by its name (given one if it has none). */
async function nodeNetnsOf(config: ForwarderConfig): Promise<string> {
  if (config.nodeNetns) return config.nodeNetns;
  const own = namespaceIdOf("file:///proc/self/ns/net");
  const named = namedNetns(own);
  if (named) return named;
  await netns.attach(OWN_NETNS_NAME, process.pid);
  return OWN_NETNS_NAME;
}

function placementOf(config: ForwarderConfig, nodeNs: string, connections: ConnectionStore): PodPlacement {
  const prefix = config.podNetnsPrefix;
  return {
    nodeNetns: (node) => {
      if (node !== config.node) throw new NsmError(400, `forwarder ${config.name} serves node "${config.node}", not "${node}"`);
      return nodeNs;
    },
    ...(prefix ? { allowPodNetns: (ns: string) => ns.startsWith(prefix) } : {}),
    netnsExists: (ns) => linuxKernel.netnsExists(ns),
    heldInterfaceNames: (ns, except) =>
      connections
        .list()
        .filter((c) => c.id !== except && netnsOf(c.mechanism) === ns)
        .flatMap((c) => interfaceNameOf(c.mechanism) ?? []),
  };
}

/** The forwarder's elements; each type loads only its own clients (a kernel forwarder needs no TF, Keystone or agent). */
async function forwarderOf(config: ForwarderConfig, placement: PodPlacement): Promise<Forwarder> {
  if (config.type === "kernel") {
    const { createKernelForwarder } = await import("../forwarders/kernel/index.ts");
    return createKernelForwarder({ kernel: linuxKernel, ipam: fileLeaseStore(config.stateDir), placement });
  }
  const [{ createTungstenForwarder }, { TfClient }, { VrouterAgentClient }] = await Promise.all([
    import("../forwarders/tungsten/index.ts"),
    import("../../wire/tf.ts"),
    import("../../wire/vrouterAgent.ts"),
  ]);
  const tfConfig = config.tf!;
  const ks = tfConfig.keystone;
  const keystone = ks
    ? new (await import("../../wire/openstack/keystone.ts")).KeystoneSession({
        authUrl: ks.authUrl,
        userName: ks.username,
        password: ks.password,
        tenantName: ks.project,
        userDomainName: ks.domain,
        projectDomainName: ks.domain,
        region: undefined,
      })
    : undefined;
  const token = keystone ? () => keystone.token() : tfConfig.token ? () => tfConfig.token! : undefined;
  const tf = new TfClient({ baseUrl: tfConfig.url, ...(token ? { token } : {}) });
  const agent = new VrouterAgentClient({ baseUrl: config.agentUrl });
  const agentOf = (node: string) => {
    if (node !== config.node) throw new NsmError(400, `forwarder ${config.name} reaches the vRouter agent of node "${config.node}" only, not "${node}"`);
    return agent;
  };
  return createTungstenForwarder({ tf, agentOf, kernel: linuxKernel, placement });
}

/** Starts the forwarder: serving first, then registered (retrying until the NSMgr answers, unless `signal` aborts). */
export async function startForwarder(env: NodeJS.ProcessEnv, log: (line: string) => void, signal?: AbortSignal): Promise<RunningForwarder> {
  const config = forwarderConfig(env);
  fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const connections = fileConnectionStore(config.stateDir);
  const nodeNs = await nodeNetnsOf(config);
  // Every Request and Close writes the host end into the node, for as long as this process runs.
  keepSessions(nodeNs);
  const placement = placementOf(config, nodeNs, connections);
  const service = new ForwarderService({ name: config.name, node: config.node, forwarder: await forwarderOf(config, placement), connections });
  // Its SVID first: NSM's hops are mTLS, and the forwarder signs its path segment with the SVID's key.
  const source = await X509Source.connect(config.spiffeEndpoint, { ...(signal ? { signal } : {}) });
  log(`SVID ${source.current().spiffeId} from ${config.spiffeEndpoint}, valid until ${source.current().notAfter.toISOString()}`);
  const server = createForwarderGrpcServer(service, { source });
  await server.listen(config.listenOn);
  if (config.healthListenOn) await server.listenHealth(config.healthListenOn);
  const client = new NsmGrpcClient(config.connectTo, { timeoutMs: 10_000, spiffe: source, name: config.name });
  const registration = new Registration({
    client,
    name: config.name,
    url: config.listenOn,
    labels: config.labels,
    ...(config.lifetimeMs ? { lifetimeMs: config.lifetimeMs } : {}),
    log,
  });
  const stop = async () => {
    await registration.stop();
    await server.close();
    client.dispose();
    source.close();
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const registered = await registration.start();
      log(`registered as ${registered.name} (${config.listenOn}, labels ${JSON.stringify(config.labels)}) until ${registered.expiration_time}`);
      break;
    } catch (e) {
      if (signal?.aborted) {
        await stop();
        throw e;
      }
      if (attempt === 1 || attempt % 30 === 0) log(`registering with ${config.connectTo} failed: ${(e as Error).message}; retrying every second`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return { config, service, server, registration, stop };
}

/** The program: runs until SIGTERM/SIGINT (or stdin's end, when asked), then answers the exit code. */
export async function runForwarder(env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const abort = new AbortController();
  let stopping: Promise<number> | undefined;
  let running: RunningForwarder | undefined;
  const shutdown = (why: string) =>
    (stopping ??= (async () => {
      log(`${why}: unregistering and stopping`);
      abort.abort();
      // An NSMgr that does not answer must not keep the forwarder from exiting.
      const giveUp = setTimeout(() => {
        log("stopping took longer than 5 s; exiting");
        process.exit(0);
      }, 5000);
      giveUp.unref();
      await running?.stop();
      return 0;
    })());
  const done = new Promise<number>((resolve) => {
    process.once("SIGTERM", () => void shutdown("SIGTERM").then(resolve));
    process.once("SIGINT", () => void shutdown("SIGINT").then(resolve));
    if (env.TFMESH_EXIT_ON_STDIN_EOF === "1") {
      process.stdin.on("data", () => {});
      process.stdin.once("end", () => void shutdown("stdin closed").then(resolve));
    }
  });
  running = await startForwarder(env, log, abort.signal);
  log(`forwarder ${running.config.name} (${running.config.type}) on node ${running.config.node} ready in ${Math.round(performance.now() - started)} ms`);
  if (stopping) await running.stop();
  return done;
}
