// The lab daemon: one process serving every wire API of the embedded target on 127.0.0.1 and
// realizing it in the kernel. Healthy once every server listens and the data plane has reconciled
// the kernel with the stored state. Stopping leaves the kernel as it is, so a restart is cheap.
//
//   node lab/daemon.ts --state-dir <dir> [--exit-with-parent <pid>]
// --exit-with-parent is for test labs: when that process is gone, the daemon stops and removes the
// instance (kernel objects and state), so a crashed test run leaves nothing behind.
import fs from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { close, createJsonServer, listen } from "../lib/http/server.ts";
import type { ListeningServer } from "../lib/http/server.ts";
import { createDataplane } from "./compute/index.ts";
import { endpointsFor, labSockets, writeEndpoints } from "./endpoints.ts";
import type { LabEndpoints } from "./endpoints.ts";
import { instanceFile, labNodes, loadInstance } from "./instance.ts";
import type { LabInstanceConfig } from "./instance.ts";
import { introspectionRoutes, LAB_HEALTH_PATH } from "./introspection.ts";
import { keystoneHint, requireKeystoneToken } from "./keystoneAuth.ts";
import { createLabKubernetes } from "./kube/index.ts";
import type { LabKubernetes } from "./kube/index.ts";
import type { LabState } from "./introspection.ts";
import { pidPath, runningDaemonPid, wipeKernel } from "./lifecycle.ts";
import { wipeStateDir } from "./stateFiles.ts";
import type { LabHealth } from "./lifecycle.ts";
import { createLog } from "./log.ts";
import type { Log } from "./log.ts";
import { createForwarderProcesses } from "./nsm/forwarderProcesses.ts";
import type { ForwarderProcesses } from "./nsm/forwarderProcesses.ts";
import { createNsm } from "./nsm/index.ts";
import { CrRegistryStore } from "./nsm/crdStore.ts";
import { installNsmCrds } from "./nsm/crds.ts";
import { sqliteRegistry } from "./nsm/store.ts";
import { FORWARDER_NAMESPACE } from "./kube/forwarderDaemonSets.ts";
import { NsmGrpcClient } from "../wire/nsm/grpcClient.ts";
import { createNsmServer } from "./nsm/server.ts";
import { createOpenStack } from "./openstack/index.ts";
import { removeUnownedPods } from "./podLeftovers.ts";
import { openDb } from "./store/db.ts";
import { ConfigStore } from "./tf/configStore.ts";
import { createTfServer } from "./tf/server.ts";
import { serveOnUnix } from "./unixFront.ts";
import { startLabSpire } from "./spire/labSpire.ts";
import type { Spire } from "./spire/spire.ts";
import { X509Source } from "../wire/spiffe/x509Source.ts";
import type { UnixFront } from "./unixFront.ts";

export interface RunningLab {
  config: LabInstanceConfig;
  endpoints: LabEndpoints;
  /** Closes the servers and leaves kernel state in place (or removes it with `wipe`). */
  stop(opts?: { wipe?: boolean }): Promise<void>;
}

interface Listener {
  what: string;
  server: ListeningServer;
  port: number;
}

/** Builds and starts every part of the lab for `config`. Throws (after undoing what it started) on failure. */
export async function startLabInstance(config: LabInstanceConfig, log: Log): Promise<RunningLab> {
  const health: LabHealth = {
    status: "starting",
    phase: "opening state",
    instance: config.name,
    prefix: config.prefix,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  const phase = (p: string) => {
    health.phase = p;
    log(p);
  };
  const nodes = labNodes(config);
  const endpoints = endpointsFor(config);

  phase(`opening state in ${config.stateDir}`);
  const db: DatabaseSync = openDb(config.stateDir);
  const listening: ListeningServer[] = [];
  let dataplane: ReturnType<typeof createDataplane> | undefined;
  let nsm: ReturnType<typeof createNsm> | undefined;
  let forwarders: ForwarderProcesses | undefined;
  const fronts: UnixFront[] = [];
  let agentServers = new Map<string, ListeningServer>();
  const sockets = labSockets(config.stateDir);
  let kube: LabKubernetes | undefined;
  // With Kubernetes the registry's records are NSM's CRs: loaded once the API server runs, before anything registers.
  const registryStore = config.kubernetes ? new CrRegistryStore({ namespace: FORWARDER_NAMESPACE, log: (line) => log(`nsm: ${line}`) }) : undefined;
  let nscClient: NsmGrpcClient | undefined;
  let spire: Spire | undefined;
  let svids: X509Source | undefined;

  const shutdown = async (wipe: boolean) => {
    health.status = "stopping";
    phase(wipe ? "stopping and removing the instance" : "stopping");
    // The forwarders first (with Kubernetes, the processes of its DaemonSets' pods): they unregister through the NSMgr's socket.
    await kube?.stopProcesses().catch((e: Error) => log(`stopping the pods' processes: ${e.message}`));
    await forwarders?.stop().catch((e: Error) => log(`stopping the forwarders: ${e.message}`));
    await Promise.all(fronts.map((f) => f.close()));
    await Promise.all(listening.map((s) => close(s)));
    await registryStore?.stop().catch((e: Error) => log(`nsm: registry store stop: ${e.message}`));
    await kube?.stop().catch((e: Error) => log(`kubernetes stop: ${e.message}`));
    nscClient?.dispose();
    await nsm?.stop().catch((e: Error) => log(`nsm stop: ${e.message}`));
    svids?.close();
    await spire?.stop().catch((e: Error) => log(`spire stop: ${e.message}`));
    if (wipe) await dataplane?.destroy();
    else await dataplane?.stop();
    db.close();
  };

  try {
    // SPIRE first, beside the rest of the set-up: NSM's gRPC API is mTLS with its SVIDs.
    const spireStarted = startLabSpire(config, sockets, (line) => log(`spire: ${line}`));
    spireStarted.catch(() => {});
    const store = new ConfigStore(db, { nodes: nodes.map((n) => ({ name: n.name, ip: n.ip })) });
    dataplane = createDataplane({ instance: config, db, store, log: (line) => log(`dataplane: ${line}`) });
    const openstack = createOpenStack({ db, store, instance: config, endpoints, vmRuntime: dataplane.vmRuntime, log: (line) => log(`openstack: ${line}`) });
    const auth = config.auth === "keystone" ? requireKeystoneToken(openstack.keystone.validateToken, { hint: keystoneHint(endpoints.keystone, config.stateDir), open: [LAB_HEALTH_PATH] }) : undefined;
    const tf = createTfServer({ store, auth: auth ?? null });
    phase("starting SPIRE (the SPIFFE identities of NSM's components)");
    spire = await spireStarted;
    svids = await X509Source.connect(`unix://${spire.workloadSocket}`);
    log(`spire: the lab's NSMgr is ${svids.current().spiffeId}`);
    const security = { source: svids };
    nsm = createNsm({ db, instance: config, endpoints, log: (line) => log(`nsm: ${line}`), forwarders: "processes", security, ...(registryStore ? { registryStore } : {}) });
    const manager = nsm.manager;

    const podRuntime = dataplane.podRuntime;
    if (config.kubernetes) {
      // nsc-init reaches the NSMgr as on a node: NSM's gRPC API on the NSMgr's socket.
      nscClient = new NsmGrpcClient(`unix://${sockets.nsm}`, { retries: 3, spiffe: svids, name: "nsc" });
      kube = createLabKubernetes({ config, db, runtime: podRuntime, closeConnections: (name) => manager.closeByPod(name), nsc: nscClient, log, phase });
    }
    const k8s = kube;
    const pods = { name: (runtimeName: string) => k8s?.podName(runtimeName), count: () => k8s?.podCount() ?? 0 };
    const state: LabState = { config, endpoints, health, nodes, store, dataplane, pods, connections: () => manager.list().length };
    const labApi = createJsonServer({ name: "lab", routes: introspectionRoutes(state, auth), ...(auth ? { before: auth.require } : {}) });

    // The lab API first: it answers /lab/health, so `lab up` can show progress from here on.
    const listeners: Listener[] = [
      { what: "lab API", server: labApi, port: config.ports.lab },
      { what: "tf", server: tf, port: config.ports.tf },
      { what: "keystone", server: openstack.keystone.server, port: config.ports.keystone },
      { what: "nova", server: openstack.nova, port: config.ports.nova },
      { what: "neutron", server: openstack.neutron, port: config.ports.neutron },
      { what: "glance", server: openstack.glance, port: config.ports.glance },
      // The JSON view with the lab's token check (createNsm's own view has none).
      { what: "nsm", server: createNsmServer({ registry: nsm.registry, manager, log: (line) => log(`nsm: ${line}`), auth }), port: config.ports.nsm },
      { what: "nsm grpc", server: nsm.grpcServer, port: config.ports.nsmGrpc },
    ];
    agentServers = dataplane.agentServers();
    for (const n of nodes) if (!agentServers.has(n.name)) throw new Error(`the data plane has no vRouter agent for node ${n.name}`);
    for (const l of listeners) {
      try {
        await listen(l.server, l.port);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(
          code === "EADDRINUSE"
            ? `port ${l.port} (${l.what}) is already in use on 127.0.0.1; stop what uses it, or change the instance's ports in ${instanceFile(config.stateDir)}`
            : `cannot listen on 127.0.0.1:${l.port} (${l.what}): ${(e as Error).message}`,
        );
      }
      listening.push(l.server);
    }
    // Doors for the nodes' processes (forwarders, relays), which cannot reach 127.0.0.1 from their netns.
    fronts.push(await serveOnUnix(nsm.grpcServer, sockets.nsm), await serveOnUnix(tf, sockets.tf), await serveOnUnix(openstack.keystone.server, sockets.keystone));
    // The agents have no TCP port: their socket here, and 127.0.0.1:9091 inside their node (the relay).
    for (const n of nodes) fronts.push(await serveOnUnix(agentServers.get(n.name)!, sockets.agent(n.name)));
    phase("listening; building the data plane and reconciling the kernel");
    await dataplane.start();
    // The nodes' netns exist now: the forwarders start while the lab restores the rest. With
    // Kubernetes they are its DaemonSets' pods (run by the lab's kubelet); the relays stay the lab's.
    forwarders = createForwarderProcesses({ instance: config, credentials: config.credentials, sockets, registry: nsm.registry, log, forwarders: kube ? "pods" : "spawn" });
    forwarders.start();
    openstack.resume();
    phase("removing pod namespaces no pod owns");
    await removeUnownedPods(podRuntime, (name) => k8s?.owns(name) === true, (name) => manager.closeByPod(name), log);
    if (kube) {
      phase("starting Kubernetes");
      await kube.start();
      phase("loading NSM's registry from its custom resources");
      await installNsmCrds(kube.client());
      await registryStore!.load(kube.client(), { migrateFrom: sqliteRegistry(db) });
      phase("applying the forwarder DaemonSets");
      const appliedAt = performance.now();
      await kube.applyForwarders({ instance: config, sockets });
      phase("waiting for the forwarder pods to register");
      await forwarders.ready();
      log(`forwarders registered ${Math.round(performance.now() - appliedAt)} ms after the DaemonSets were applied (ms from the relays' start: ${JSON.stringify(forwarders.readyMs())})`);
    } else {
      phase("waiting for the forwarders to register");
      await forwarders.ready();
      log(`forwarders registered (ms from start: ${JSON.stringify(forwarders.readyMs())})`);
    }
    phase("healing connections");
    await nsm.start();
    writeEndpoints(config.stateDir, endpoints);
    health.status = "ok";
    health.readyAt = new Date().toISOString();
    phase(`ready in ${Date.parse(health.readyAt) - Date.parse(health.startedAt)} ms`);
  } catch (e) {
    log(`start failed: ${(e as Error).message}`);
    const frames = ((e as Error).stack ?? "").split("\n").slice(1).join("\n");
    if (frames) log(frames);
    await shutdown(false).catch((err: Error) => log(`cleanup after failed start: ${err.message}`));
    throw e;
  }

  let stopping: Promise<void> | undefined;
  return {
    config,
    endpoints,
    stop: (opts = {}) => (stopping ??= shutdown(opts.wipe === true)),
  };
}

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      "state-dir": { type: "string" },
      "exit-with-parent": { type: "string" },
    },
    strict: true,
  });
  if (!values["state-dir"]) throw new Error("usage: daemon.ts --state-dir <dir> [--exit-with-parent <pid>]");
  const parent = values["exit-with-parent"] !== undefined ? Number.parseInt(values["exit-with-parent"], 10) : undefined;
  if (parent !== undefined && !(parent > 0)) throw new Error("--exit-with-parent needs a pid");
  return { stateDir: values["state-dir"], parent };
}

/** Takes daemon.pid atomically, so two daemons racing for one instance cannot both run. */
function claimPidFile(stateDir: string, name: string): () => void {
  const file = pidPath(stateDir);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
      const other = runningDaemonPid(stateDir);
      if (other !== undefined) throw new Error(`instance ${name} is already served by pid ${other}`);
      fs.rmSync(file, { force: true }); // stale: its daemon is gone
    }
  }
  return () => {
    try {
      if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file);
    } catch {
      // already gone
    }
  };
}

async function main(): Promise<void> {
  const args = parseCli(process.argv.slice(2));
  const config = loadInstance(args.stateDir);
  if (!config) throw new Error(`no lab instance in ${args.stateDir} (instance.json missing); start it with "lab up"`);
  const log = createLog(config.stateDir, { echo: process.stdout.isTTY === true });
  const releasePid = claimPidFile(config.stateDir, config.name);
  process.on("unhandledRejection", (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? e}`));

  // Signals may arrive while the lab is still starting: they stop it as soon as the start settles.
  let starting: Promise<RunningLab | undefined> = Promise.resolve(undefined);
  let exiting = false;
  const exit = async (why: string, wipe: boolean) => {
    if (exiting) return;
    exiting = true;
    log(`${why}: shutting down${wipe ? " and removing the instance" : ""}`);
    try {
      const lab = await starting;
      await lab?.stop({ wipe });
      log("stopped");
    } catch (e) {
      log(`stop failed: ${(e as Error).stack ?? e}`);
    } finally {
      releasePid();
      if (wipe) {
        await wipeKernel(config.prefix).catch(() => {});
        wipeStateDir(config.stateDir);
      }
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => void exit("SIGTERM", false));
  process.on("SIGINT", () => void exit("SIGINT", false));
  if (args.parent !== undefined) {
    const parent = args.parent;
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        void exit(`parent ${parent} is gone`, true);
      }
    }, 500).unref();
  }

  log(`starting instance ${config.name} (prefix ${config.prefix}, auth ${config.auth})`);
  starting = startLabInstance(config, log).catch(() => undefined);
  const lab = await starting;
  if (!lab && !exiting) {
    releasePid();
    throw new Error(`start failed; see ${config.stateDir}/daemon.log`);
  }
}

if (import.meta.main) {
  main().catch((e: Error) => {
    console.error(`lab daemon: ${e.message}`);
    process.exit(1);
  });
}
