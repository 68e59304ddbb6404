// The lab's command line: start, stop, inspect and step into a lab instance.
//   tfmesh lab <command> [--instance <name>] [--prefix <p>] [--state-dir <dir>]
// (`npm run lab -- <command>` in this repository). cli/tfmesh.ts is the program that runs it.
import fs from "node:fs";
import { parseArgs } from "node:util";
import { HttpClient } from "../lib/http/client.ts";
import * as netns from "../lib/kernel/netns.ts";
import { tokenHeaders } from "../wire/tf.ts";
import { endpointsFor, endpointsPath } from "./endpoints.ts";
import type { LabEndpoints } from "./endpoints.ts";
import { derivePrefix, InstanceConfigError, loadInstance, locateInstance, resolveInstance } from "./instance.ts";
import type { LabInstanceConfig, LabInstanceOptions } from "./instance.ts";
import type { LabStatus } from "./introspection.ts";
import { compareReachability, ExpectationError, measureReachability, parseExpectation } from "./reachability.ts";
import type { Expectation } from "./reachability.ts";
import { renderComparison, renderReachability } from "./reachabilityView.ts";
import { labToken } from "./keystoneSession.ts";
import { fetchHealth, logSize, runningDaemonPid, spawnDaemon, stopDaemon, waitHealthy, wipeKernel } from "./lifecycle.ts";
import { wipeStateDir } from "./stateFiles.ts";
import { renderTopology } from "./topologyView.ts";
import type { TopologyView } from "./topologyView.ts";
import { findWorkload, WorkloadLookupError } from "./workloads.ts";
import { kubernetesHealth, prepareKubernetesBinaries, renderKubernetesHealth, runKubectl } from "./kube/cliCommands.ts";
import { listLabPods, renderPods } from "./kube/podList.ts";
import { ensureSpireBinaries } from "./spire/binaries.ts";
import { probeSpire, renderSpireHealth } from "./spire/status.ts";

const LAB_USAGE = `usage: tfmesh lab <command> [options]   (in the tfmesh repository: npm run lab -- <command>)

commands
  up                         start the lab daemon in the background and wait until it is healthy
  down [--wipe]              stop it; --wipe also removes its state dir and every kernel object
  status                     health, nodes and object counts
  topology                   the underlay, nodes, VN bridges, VMs and pods as a tree
  reach [--expect <file>]    ping every pod -> VM, VM -> pod and VM -> VM pair inside the namespaces and
                             print who reaches whom; --expect compares with a file (exit 1 if it differs)
                             such as scripts/red-blue.reachability.json; --json for the raw result
  exec <vm|pod> -- <cmd...>  run a command in a VM's (Nova name or id) or pod's namespace, e.g.
                             exec red-pod -- ip addr (output and exit code pass through)
  kubectl <args...>          kubectl with the lab's kubeconfig, e.g. kubectl get nodes,pods -A -o wide
                             (lab options go before "kubectl")

options
  --instance <name>          lab instance (default "default")
  --prefix <p>               kernel name prefix (default "tfm" for the default instance)
  --state-dir <dir>          state dir (default $TFMESH_HOME/lab/<instance>, TFMESH_HOME=~/.tfmesh)
  --ports auto               (up, new instance) pick free ports instead of the standard ones
  --auth keystone|noauth     (up, new instance) whether the APIs require Keystone tokens
  --compute-nodes a,b        (up, new instance) compute node names
  --k8s-nodes a,b            (up, new instance) k8s node names
  --no-kubernetes            (up, new instance) no Kubernetes control plane, so no pods: TF,
                             OpenStack and NSM only (also TFMESH_KUBERNETES=0). By default a new
                             instance runs one, with the lab as the kubelet of its k8s nodes; its
                             first start builds it from the Go module proxy unless installed
                             (15-25 minutes; scripts/setup.sh builds it too)
  --kubernetes               (up) turn Kubernetes on for an instance made without it
`;

/** A failure the user caused or can fix: printed without a stack. */
export class UsageError extends Error {}

type Options = {
  instance?: string;
  prefix?: string;
  "state-dir"?: string;
  ports?: string;
  auth?: string;
  "compute-nodes"?: string;
  "k8s-nodes"?: string;
  wipe?: boolean;
  json?: boolean;
  expect?: string;
  help?: boolean;
  kubernetes?: boolean;
};

function parse(argv: string[]) {
  const dashes = argv.indexOf("--");
  const own = dashes >= 0 ? argv.slice(0, dashes) : argv;
  const passthrough = dashes >= 0 ? argv.slice(dashes + 1) : [];
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: true,
      strict: true,
      options: {
        instance: { type: "string" },
        prefix: { type: "string" },
        "state-dir": { type: "string" },
        ports: { type: "string" },
        auth: { type: "string" },
        "compute-nodes": { type: "string" },
        "k8s-nodes": { type: "string" },
        wipe: { type: "boolean" },
        json: { type: "boolean" },
        expect: { type: "string" },
        help: { type: "boolean", short: "h" },
        kubernetes: { type: "boolean" },
      },
      allowNegative: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${LAB_USAGE}`);
  }
  return { command: parsed.positionals[0], args: parsed.positionals.slice(1), opts: parsed.values as Options, passthrough };
}

function instanceOptions(o: Options): LabInstanceOptions {
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter(Boolean));
  if (o.ports !== undefined && o.ports !== "auto") throw new UsageError(`--ports takes only "auto" (got ${o.ports})`);
  if (o.auth !== undefined && o.auth !== "keystone" && o.auth !== "noauth") throw new UsageError(`--auth is keystone or noauth (got ${o.auth})`);
  return {
    name: o.instance,
    prefix: o.prefix,
    stateDir: o["state-dir"],
    ports: o.ports === "auto" ? "auto" : undefined,
    auth: o.auth as LabInstanceOptions["auth"],
    computeNodes: list(o["compute-nodes"]),
    k8sNodes: list(o["k8s-nodes"]),
    ...kubernetesChoice(o),
  };
}

/** --[no-]kubernetes, else TFMESH_KUBERNETES=0/1, else on for a new instance (an existing one keeps what it has). */
function kubernetesChoice(o: Options): { kubernetes?: boolean } {
  if (o.kubernetes !== undefined) return { kubernetes: o.kubernetes };
  const env = process.env.TFMESH_KUBERNETES;
  if (env === "0" || env === "1") return { kubernetes: env === "1" };
  return loadInstance(locateInstance({ name: o.instance, stateDir: o["state-dir"] }).stateDir) ? {} : { kubernetes: true };
}

/** The stored instance the options point to; commands other than `up` never create one. */
function existingInstance(o: Options): LabInstanceConfig {
  const { name, stateDir } = locateInstance({ name: o.instance, stateDir: o["state-dir"] });
  const config = loadInstance(stateDir);
  if (!config) throw new UsageError(`there is no lab instance "${name}" in ${stateDir}; start one with "tfmesh lab up${o.instance ? ` --instance ${o.instance}` : ""}"`);
  if (o.prefix !== undefined && o.prefix !== config.prefix) throw new UsageError(`instance "${config.name}" uses prefix ${config.prefix}, not ${o.prefix}`);
  return config;
}

const out = (s = "") => process.stdout.write(s + "\n");

function printEndpoints(e: LabEndpoints, config: LabInstanceConfig): void {
  const rows: Array<[string, string]> = [
    ["TF config API", e.tf],
    ["Keystone", `${e.keystone}  (user admin, project admin, domain Default; password in endpoints.json)`],
    ["Nova", e.nova],
    ["Neutron", e.neutron],
    ["Glance", e.glance],
    ["NSM (gRPC)", `${e.nsmGrpc}  (NSM_CONNECT_TO; Request, Close, monitor, registry; mTLS with SPIFFE SVIDs)`],
    ["SPIFFE Workload API", `${e.spiffe}  (SPIFFE_ENDPOINT_SOCKET: the lab's SPIRE agent, trust domain tfmesh.lab)`],
    ["NSM (JSON view)", `${e.nsm}  (read-only: services, endpoints, connections)`],
    ["lab API", e.lab],
    ...(e.kubernetes ? ([["Kubernetes", e.kubernetes.server], ["kubeconfig", e.kubernetes.kubeconfig]] as Array<[string, string]>) : []),
    ...Object.entries(e.agents).map(([node, url]): [string, string] => [`agent ${node}`, url]),
    ["endpoints.json", endpointsPath(config.stateDir)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out(`  ${k.padEnd(w)}  ${v}`);
}

async function up(o: Options): Promise<number> {
  const config = await resolveInstance(instanceOptions(o));
  const running = runningDaemonPid(config.stateDir);
  if (running !== undefined) {
    const health = await fetchHealth(config);
    if (health?.status === "ok") {
      out(`Lab "${config.name}" is already running (pid ${running}).`);
      printEndpoints(endpointsFor(config), config);
      return 0;
    }
    out(`Lab "${config.name}" is starting (pid ${running}); waiting for it.`);
  } else {
    out(`Starting lab "${config.name}" (prefix ${config.prefix}, state ${config.stateDir})`);
  }
  if (config.kubernetes && running === undefined) await prepareKubernetesBinaries((line) => out(`  • ${line}`));
  // The daemon would build SPIRE too, but only its log would show the progress.
  if (running === undefined) await ensureSpireBinaries((line) => out(`  • ${line}`));
  const logFrom = logSize(config.stateDir);
  const pid = running ?? spawnDaemon(config, { detached: true }).pid;
  const t0 = Date.now();
  await waitHealthy(config, { pid, logFrom, onPhase: (p) => out(`  • ${p}`) });
  out(`Lab "${config.name}" is up (pid ${pid}, ${((Date.now() - t0) / 1000).toFixed(1)} s).`);
  printEndpoints(endpointsFor(config), config);
  return 0;
}

async function down(o: Options): Promise<number> {
  const located = locateInstance({ name: o.instance, stateDir: o["state-dir"] });
  const stateDir = located.stateDir;
  const config = loadInstance(stateDir);
  const name = config?.name ?? located.name;
  const stopped = await stopDaemon(stateDir);
  out(stopped ? `Stopped lab "${name}".` : `Lab "${name}" was not running.`);
  if (!o.wipe) {
    if (stopped) out("Its state and kernel objects are kept; \"up\" brings it back, \"down --wipe\" removes them.");
    return 0;
  }
  const prefix = config?.prefix ?? o.prefix ?? derivePrefix(name);
  const removed = await wipeKernel(prefix);
  out(`Removed ${removed.length} network namespace${removed.length === 1 ? "" : "s"} with prefix ${prefix}-.`);
  const { removedDir, kept } = wipeStateDir(stateDir);
  out(removedDir ? `Removed state dir ${stateDir}.` : `Removed the lab's files from ${stateDir}; kept ${kept.join(", ")}.`);
  return 0;
}

/** The lab's own API, with a token from its Keystone (the instance's credentials) when its auth is "keystone". */
function labApi(config: LabInstanceConfig): HttpClient {
  const token = labToken(config, { retries: 0 });
  return new HttpClient({
    baseUrl: `http://127.0.0.1:${config.ports.lab}`,
    ...(token ? { headers: tokenHeaders(token) } : {}),
    retries: 0,
    timeoutMs: 30_000,
    unreachableHint: `is lab "${config.name}" running? ("tfmesh lab up${config.name === "default" ? "" : ` --instance ${config.name}`}")`,
  });
}

async function status(o: Options): Promise<number> {
  const config = existingInstance(o);
  const pid = runningDaemonPid(config.stateDir);
  if (pid === undefined) {
    out(`Lab "${config.name}" (prefix ${config.prefix}): stopped.`);
    return 3;
  }
  const token = labToken(config, { retries: 0 });
  const health = await fetchHealth(config, token ? { token } : {});
  if (health?.status !== "ok") {
    out(`Lab "${config.name}" (prefix ${config.prefix}): pid ${pid}, ${health ? `${health.status}${health.phase !== undefined ? `: ${health.phase}` : ""}` : "not answering"}.`);
    return 1;
  }
  const s = (await labApi(config).get<LabStatus>("/lab/status")).body;
  out(`Lab "${config.name}" (prefix ${config.prefix}): running and healthy (pid ${pid}, ready since ${s.health.readyAt ?? "?"}).`);
  out("Nodes");
  const nodeRows = s.nodes.map((n) => [n.name, n.kind, n.ip, `agent ${n.agent}`]);
  const widths = [0, 1, 2].map((i) => Math.max(...nodeRows.map((r) => r[i]!.length)));
  for (const r of nodeRows) out(`  ${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join("  ")}`);
  out("Objects");
  const c = s.counts;
  const counts: Array<[string, number]> = [
    ["virtual networks", c.virtualNetworks],
    ["VMs", c.virtualMachines],
    ["ports (VMIs)", c.ports],
    ["pods", c.pods],
    ["NSM connections", c.connections],
  ];
  for (const [k, v] of counts) out(`  ${k.padEnd(16)}  ${v}`);
  const spire = await probeSpire(config.stateDir);
  out("SPIRE (the SPIFFE identities of NSM's components)");
  for (const line of renderSpireHealth(spire)) out(line);
  if (spire.some((p) => !p.ok)) return 1;
  if (config.kubernetes) {
    const health = await kubernetesHealth(config);
    out("Kubernetes");
    for (const line of renderKubernetesHealth(health)) out(line);
    if (health.some((h) => !h.ok)) return 1;
    out("Pods");
    for (const line of renderPods(await listLabPods(config))) out(line);
  }
  return 0;
}

async function topology(o: Options): Promise<number> {
  const config = existingInstance(o);
  const view = (await labApi(config).get<TopologyView>("/lab/topology")).body;
  process.stdout.write(renderTopology(view));
  return 0;
}

async function exec(o: Options, args: string[], argv: string[]): Promise<number> {
  const target = args[0];
  if (!target || argv.length === 0 || args.length > 1) throw new UsageError(`usage: tfmesh lab exec <vm|pod> -- <command...>`);
  const config = existingInstance(o);
  const view = (await labApi(config).get<TopologyView>("/lab/topology")).body;
  return netns.spawn(findWorkload(view, target).netns, argv, { stdio: "inherit" });
}

function readExpectation(file: string): Expectation {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the expectation ${file}: ${(e as Error).message}`);
  }
  try {
    return parseExpectation(JSON.parse(text));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
}

async function reach(o: Options): Promise<number> {
  const expectation = o.expect !== undefined ? readExpectation(o.expect) : undefined;
  const config = existingInstance(o);
  const view = (await labApi(config).get<TopologyView>("/lab/topology")).body;
  const result = await measureReachability(view, { order: expectation?.workloads ?? [] });
  const comparison = expectation ? compareReachability(result, expectation) : undefined;
  if (o.json) {
    out(JSON.stringify({ ...result, ...(comparison ? { expectation: { file: o.expect, ...expectation, ...comparison } } : {}) }, null, 2));
  } else {
    process.stdout.write(renderReachability(result));
    if (comparison && expectation) process.stdout.write("\n" + renderComparison(comparison, expectation, o.expect!));
  }
  return comparison && !comparison.matches ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  // kubectl's own flags (-A, -o wide, ...) are not the lab's: everything after "kubectl" is kubectl's.
  const kubectlAt = argv.indexOf("kubectl");
  if (kubectlAt >= 0 && parse(argv.slice(0, kubectlAt)).command === undefined) {
    const { opts } = parse(argv.slice(0, kubectlAt));
    return runKubectl(existingInstance(opts), argv.slice(kubectlAt + 1));
  }
  const { command, args, opts, passthrough } = parse(argv);
  if (opts.help || command === undefined || command === "help") {
    out(LAB_USAGE);
    return command === undefined && !opts.help ? 2 : 0;
  }
  if (command !== "exec" && passthrough.length > 0) throw new UsageError(`"${command}" takes no command after "--"`);
  if (opts.wipe && command !== "down") throw new UsageError("--wipe belongs to \"down\"");
  if ((opts.json || opts.expect !== undefined) && command !== "reach") throw new UsageError(`--${opts.json ? "json" : "expect"} belongs to "reach"`);
  switch (command) {
    case "up":
      return up(opts);
    case "down":
      return down(opts);
    case "status":
      return status(opts);
    case "topology":
      return topology(opts);
    case "exec":
      return exec(opts, args, passthrough);
    case "reach":
      if (args.length > 0) throw new UsageError(`"reach" takes no arguments (got ${args.join(" ")})`);
      return reach(opts);
    default:
      throw new UsageError(`unknown command "${command}"\n\n${LAB_USAGE}`);
  }
}

/** Errors the user caused or can fix: the command prints their message without a stack. */
export function isLabUsageError(e: unknown): boolean {
  return e instanceof UsageError || e instanceof InstanceConfigError || e instanceof WorkloadLookupError || e instanceof ExpectationError;
}
