// NSM Request and Close latency in a running lab, over 100 connections of the tungsten forwarder
// (and 100 of the kernel forwarder): every connection must come up with its own address and go
// away without a trace. The numbers are printed, not asserted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../lib/http/client.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { NsmClient } from "../../provider/clients/nsm.ts";
import { TfClient } from "../../provider/clients/tf.ts";
import type { NetworkServiceRequest } from "../../nsm/api.ts";
import { LAB_TIMEOUT, startLab } from "../helpers/lab.ts";
import type { TestLab } from "../helpers/lab.ts";

const CONNECTIONS = 100;
const PODS = 4;

interface Pod {
  name: string;
  node: string;
  netns: string;
}

let lab: TestLab;
let prefix = "";
let nsm: NsmClient;
let tf: TfClient;
const pods: Pod[] = [];

beforeAll(async () => {
  lab = await startLab();
  prefix = lab.prefix;
  const headers = await lab.authHeaders();
  tf = new TfClient({ baseUrl: lab.endpoints.tf, token: () => headers["x-auth-token"] });
  nsm = new NsmClient(lab.endpoints.nsm);
  const ipam = ["default-domain", "admin", "ipam-bench"];
  await tf.create("network-ipam", { fq_name: ipam, parent_type: "project" });
  await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", "bench"],
    parent_type: "project",
    network_ipam_refs: [{ to: ipam, attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.9.0.0", ip_prefix_len: 23 } }] } }],
  });
  await nsm.upsertNetworkService({ name: "bench", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:bench" } });
  await nsm.upsertNetworkService({ name: "bench-local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.61.0.0/23" } });
  const api = new HttpClient({ baseUrl: lab.endpoints.pods });
  for (let i = 0; i < PODS; i++) pods.push((await api.post<Pod>("/pods", { name: `bench-${i}`, node: `k8s-${(i % 2) + 1}` })).body);
}, LAB_TIMEOUT);

afterAll(async () => {
  await lab?.stop();
  if (prefix) expect(netns.list(`${prefix}-`)).toEqual([]);
}, LAB_TIMEOUT);

function attach(id: string, p: Pod, service: string): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: p.node, podName: p.name } },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: p.netns } }],
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(1)} ms, p95 ${percentile(s, 95).toFixed(1)} ms, max ${s.at(-1)!.toFixed(1)} ms`;
};

async function measure(service: string) {
  const requestMs: number[] = [];
  const closeMs: number[] = [];
  const addresses = new Set<string>();
  for (let i = 0; i < CONNECTIONS; i++) {
    const t0 = performance.now();
    const c = await nsm.request(attach(`${service}-${i}`, pods[i % PODS]!, service));
    requestMs.push(performance.now() - t0);
    expect(c.state).toBe("UP");
    addresses.add(c.context!.ip_context!.src_ip_addrs![0]!);
  }
  expect(addresses.size).toBe(CONNECTIONS);
  for (let i = 0; i < CONNECTIONS; i++) {
    const t0 = performance.now();
    await nsm.close({ id: `${service}-${i}` });
    closeMs.push(performance.now() - t0);
  }
  expect(await nsm.listConnections()).toEqual([]);
  console.log(`NSM ${service} over ${CONNECTIONS} connections: Request ${summary(requestMs)}; Close ${summary(closeMs)}`);
}

describe("NSM latency", () => {
  it(`tungsten forwarder: ${CONNECTIONS} connections up and down, nothing left in TF`, async () => {
    await measure("bench");
    for (const type of ["virtual-machine", "virtual-machine-interface", "instance-ip"]) expect(await tf.list(type)).toEqual([]);
  }, 600_000);

  it(`kernel forwarder: ${CONNECTIONS} connections up and down`, async () => {
    await measure("bench-local");
  }, 600_000);
});
