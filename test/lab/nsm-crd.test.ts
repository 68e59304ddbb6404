// A lab with Kubernetes (root) keeps NSM's registry in NSM's CRDs, as NSM's registry-k8s does:
// the CRDs are NSM's; a service registered over gRPC is a NetworkService CR in nsm-system with
// NSM's spec once Register answers; `kubectl get netsvc,nse -A` shows the services and the
// forwarders with their expiration; a CR applied with kubectl registers a service the lab serves,
// reaching a Find-with-watch stream, and its deletion comes as deleted: true; an invalid CR is
// skipped with a log line; an endpoint's expiry deletes its CR; a restart keeps the services, and
// moves the services of the old sqlite tables into CRs.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { labPod } from "../../harness/kube.ts";
import { startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { ensureBinaries } from "../../lab/kube/binaries.ts";
import type { KubeBinary, ResolvedBinary } from "../../lab/kube/binaries.ts";
import { openDb } from "../../lab/store/db.ts";
import * as ip from "../../lib/kernel/ip.ts";
import type { KubernetesClient } from "../../wire/kubernetes.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { NetworkService } from "../../wire/nsm/api.ts";
import type { CustomResourceDefinition, NsmCr } from "../../wire/nsm/crd.ts";
import { crName, serviceSpec } from "../../wire/nsm/crd.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { LAB_IDENTITIES } from "../../lab/spire/identities.ts";

const run = promisify(execFile);
const BUILD_TIMEOUT = 45 * 60_000;
const WAIT = { timeoutMs: 60_000, intervalMs: 250 };
const NSM = "/apis/networkservicemesh.io/v1";

let lab: TestLab;
let kube: KubernetesClient;
let bins: Record<KubeBinary, ResolvedBinary>;
let nsm: NsmGrpcClient;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nsm-crd-"));

const LOCAL: NetworkService = { name: "local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.62.0.0/24" } };
const RED: NetworkService = { name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(bins.kubectl.path, ["--kubeconfig", lab.endpoints.kubernetes!.kubeconfig, ...args], { timeout: 60_000 });
  return stdout;
}

/** kubectl apply of one object, as a person would with a file. */
async function kubectlApply(obj: unknown): Promise<void> {
  const file = path.join(tmp, `${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(obj));
  await kubectl("apply", "-f", file);
}

const serviceCr = (namespace: string, name: string) => kube.get<NsmCr>(resourcePath("networkservicemesh.io/v1", "networkservices", namespace, name));
const endpointCr = (namespace: string, name: string) => kube.get<NsmCr>(resourcePath("networkservicemesh.io/v1", "networkserviceendpoints", namespace, name));
const daemonLog = () => fs.readFileSync(path.join(lab.stateDir, "daemon.log"), "utf8");
const services = async () => (await nsm.listNetworkServices()).map((s) => s.name).sort();

/** The changes a Find-with-watch stream sees, as "name:deleted", until stop(). */
function watchServices(name: string) {
  const abort = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const { service, deleted } of nsm.findServices({ name }, { watch: true, signal: abort.signal })) seen.push(`${service.name}:${deleted}`);
  })().catch((e: Error) => {
    if (!abort.signal.aborted) seen.push(`error: ${e.message}`);
  });
  return { seen, stop: async () => (abort.abort(), await done) };
}

beforeAll(async () => {
  bins = await ensureBinaries((line) => console.log(line));
}, BUILD_TIMEOUT);

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1"] });
  kube = lab.kube!;
  nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
}, 240_000);

afterAll(async () => {
  nsm?.dispose();
  await lab?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe("NSM's registry in the lab's Kubernetes CRDs", () => {
  it("has NSM's CRDs installed and Established", async () => {
    for (const [plural, kind, shortNames] of [
      ["networkservices", "NetworkService", ["netsvc", "netsvcs"]],
      ["networkserviceendpoints", "NetworkServiceEndpoint", ["nse", "nses"]],
    ] as const) {
      const crd = await kube.get<CustomResourceDefinition>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.networkservicemesh.io`);
      expect(crd?.spec).toMatchObject({ group: "networkservicemesh.io", scope: "Namespaced", names: { kind, plural, shortNames } });
      expect(crd?.status?.conditions).toContainEqual(expect.objectContaining({ type: "Established", status: "True" }));
    }
  });

  it("writes a service registered over gRPC as a NetworkService CR in nsm-system with NSM's spec before Register answers", async () => {
    await nsm.registerService(RED);
    const cr = await serviceCr("nsm-system", "red");
    expect(cr?.spec).toEqual(serviceSpec({ ...RED, path_ids: [LAB_IDENTITIES.operator] }));
    expect(cr?.spec).toEqual({
      name: "red",
      payload: "ETHERNET",
      matches: [{ metadata: { labels: { type: "tungsten" } }, routes: [{ destination_selector: { "tungsten.virtual_network": "default-domain:admin:red" } }] }],
      // Who registered it (NSM's registry keeps the registering identity; only it may change the record).
      path_ids: [LAB_IDENTITIES.operator],
    });
    await nsm.registerService({ ...RED, payload: "IP" });
    expect((await serviceCr("nsm-system", "red"))?.spec).toMatchObject({ payload: "IP" });
    await nsm.unregisterService("red");
    expect(await serviceCr("nsm-system", "red")).toBeUndefined();
    await nsm.registerService(RED);
  });

  it("kubectl get netsvc,nse -A shows the services and the forwarders with their expiration", async () => {
    await nsm.registerService(RED);
    await nsm.registerService(LOCAL);
    const table = await kubectl("get", "netsvc,nse", "-A");
    expect(table).toMatch(/nsm-system\s+networkservice\.networkservicemesh\.io\/red\s+ETHERNET\s+tungsten/);
    expect(table).toMatch(/nsm-system\s+networkservice\.networkservicemesh\.io\/local\s+ETHERNET\s+kernel/);
    for (const fwd of ["tungsten@k8s-1", "kernel@k8s-1"]) {
      const row = table.split("\n").find((l) => l.includes(`networkserviceendpoint.networkservicemesh.io/${crName(fwd)} `));
      expect(row, `a row for ${fwd} in:\n${table}`).toBeDefined();
      const expires = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/.exec(row!)?.[0];
      expect(row).toContain("forwarder");
      // Registrations last a minute and are refreshed at 2/3 of it.
      const left = Date.parse(expires!) - Date.now();
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(61_000);
      const cr = await endpointCr("nsm-system", crName(fwd));
      expect(cr?.spec).toMatchObject({ name: fwd, network_service_names: ["forwarder"], expiration_time: { seconds: Math.floor(Date.parse(expires!) / 1000) } });
    }
  });

  it("registers a CR applied with kubectl in any namespace, which a Find-with-watch sees, serves it, and hears its deletion as deleted: true", async () => {
    const watch = watchServices("green");
    const spec = { name: "green", payload: "ETHERNET", matches: [{ metadata: { labels: { type: "kernel" } }, routes: [{ destination_selector: { "kernel.cidr": "10.63.0.0/24" } }] }] };
    await kubectlApply({ apiVersion: "networkservicemesh.io/v1", kind: "NetworkService", metadata: { name: "green", namespace: "default" }, spec });
    await eventually(() => watch.seen.includes("green:false"), { what: "the watch to see green registered", ...WAIT });
    expect(await nsm.getNetworkService("green")).toEqual({ name: "green", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.63.0.0/24" } });

    // The lab serves it: a connection on it builds an interface in a pod.
    const client = labPod(await lab.createPod("green-client", { node: "k8s-1" }));
    const c = await nsm.request({
      connection: { id: "green-1", network_service: "green", labels: { nodeName: client.node, podName: client.name } },
      mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: client.netns } }],
    });
    expect(c.context?.ip_context?.src_ip_addrs?.[0]).toMatch(/^10\.63\.0\.\d+\/24$/);
    const links = await ip.json<{ ifname: string }>(["link", "show"], client.netns);
    expect(links.map((l) => l.ifname)).toContain(c.mechanism?.parameters?.name);
    await nsm.close(c);

    await kubectl("delete", "networkservice", "green", "-n", "default");
    await eventually(() => watch.seen.includes("green:true"), { what: "the watch to see green deleted", ...WAIT });
    await watch.stop();
    expect(watch.seen).toEqual(["green:false", "green:true"]);
    expect(await services()).not.toContain("green");
  });

  it("skips an invalid CR with a log line naming it and why, and keeps serving", async () => {
    await kubectlApply({ apiVersion: "networkservicemesh.io/v1", kind: "NetworkService", metadata: { name: "broken", namespace: "default" }, spec: { name: "broken", payload: 5 } });
    await kubectlApply({ apiVersion: "networkservicemesh.io/v1", kind: "NetworkService", metadata: { name: "unbound", namespace: "default" }, spec: { payload: "IP" } });
    await eventually(() => daemonLog().includes("NetworkService default/unbound skipped"), { what: "the log line for the invalid CRs", ...WAIT });
    const lines = daemonLog().split("\n");
    expect(lines.find((l) => l.includes("NetworkService default/broken skipped"))).toMatch(/skipped: spec: .*registry\.NetworkService\.payload .*got 5/);
    expect(lines.find((l) => l.includes("NetworkService default/unbound skipped"))).toMatch(/invalid network service "unbound": forwarder must name/);
    expect(await services()).toEqual(["local", "red"]);
    await nsm.registerService({ ...LOCAL, name: "after-broken" });
    expect(await serviceCr("nsm-system", "after-broken")).toBeDefined();
    await nsm.unregisterService("after-broken");
    await kubectl("delete", "networkservice", "broken", "unbound", "-n", "default");
  });

  it("deletes an endpoint's CR when its registration expires", async () => {
    const name = "probe@k8s-1";
    await nsm.registerEndpoint({ name, network_service_names: ["probe"], url: "tcp://127.0.0.1:9", expiration_time: new Date(Date.now() + 3000).toISOString() });
    expect((await endpointCr("nsm-system", crName(name)))?.spec).toMatchObject({ name, network_service_names: ["probe"] });
    await eventually(async () => (await endpointCr("nsm-system", crName(name))) === undefined, { what: `the CR of ${name} to go when it expires`, ...WAIT });
    expect((await nsm.listEndpoints()).map((e) => e.name)).not.toContain(name);
  });

  it("keeps the services across a restart, and moves the services of the sqlite tables into CRs", async () => {
    await lab.restart(async () => {
      const db = openDb(lab.stateDir);
      try {
        const legacy: NetworkService = { name: "legacy", payload: "IP", forwarder: "kernel", kernel: { cidr: "10.64.0.0/24" } };
        db.prepare("INSERT INTO nsm_service (name, record) VALUES (?, ?)").run("legacy", JSON.stringify(legacy));
        db.prepare("INSERT INTO nsm_endpoint (name, record) VALUES (?, ?)").run("old@k8s-1", JSON.stringify({ name: "old@k8s-1", network_service_names: ["forwarder"] }));
      } finally {
        db.close();
      }
    });
    expect(await services()).toEqual(["legacy", "local", "red"]);
    expect(await nsm.getNetworkService("red")).toEqual({ ...RED, path_ids: [LAB_IDENTITIES.operator] });
    expect((await serviceCr("nsm-system", "legacy"))?.spec).toMatchObject({ name: "legacy", payload: "IP" });
    const db = openDb(lab.stateDir);
    try {
      expect(db.prepare("SELECT count(*) AS n FROM nsm_service").get()).toEqual({ n: 0 });
      expect(db.prepare("SELECT count(*) AS n FROM nsm_endpoint").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    expect(daemonLog()).toMatch(/registry: moved 1 service\(s\) from the sqlite tables into NetworkService CRs \(0 had a CR already; 1 endpoint\(s\) dropped/);
    // The forwarders registered again, each in its one CR.
    const nses = (await kube.list<NsmCr>(`${NSM}/networkserviceendpoints`)).items.map((c) => c.metadata.name).sort();
    expect(nses).toEqual([crName("kernel@k8s-1"), crName("tungsten@k8s-1")].sort());
  });
});
