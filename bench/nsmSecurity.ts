// What NSM's security model costs a Request and a Close: the same two hops (client -> NSMgr ->
// forwarder process's gRPC server, over unix sockets as on a node) measured side by side in plain
// h2c and with the lab's security (mTLS with SPIRE's X.509-SVIDs on both hops, ES256 path tokens
// made and checked at each). The forwarder's own work is a no-op element, so the difference is the
// security alone: TLS on the connections (set up once, then reused) and the tokens of every call.
import { DatabaseSync } from "node:sqlite";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../lib/freePort.ts";
import { close as closeServer } from "../lib/http/server.ts";
import { createNsmGrpcServer } from "../lab/nsm/grpc/server.ts";
import type { NsmGrpcServer } from "../lab/nsm/grpc/server.ts";
import { nsmStores } from "../lab/nsm/store.ts";
import { LAB_TRUST_DOMAIN, labEntries } from "../lab/spire/identities.ts";
import { startSpire } from "../lab/spire/spire.ts";
import { interfaceOf, withContext, withInterfaceName } from "../nsm/connection.ts";
import { forwarder } from "../nsm/forwarder.ts";
import { createForwarderGrpcServer } from "../nsm/forwarderd/grpcServer.ts";
import type { ForwarderGrpcServer } from "../nsm/forwarderd/grpcServer.ts";
import { ForwarderService } from "../nsm/forwarderd/service.ts";
import type { GrpcSecurity } from "../nsm/grpc/secureServer.ts";
import { Manager } from "../nsm/manager.ts";
import { Registry } from "../nsm/registry.ts";
import { RemoteForwarders } from "../nsm/remoteForwarders.ts";
import { forwarderEndpoint } from "../wire/nsm/api.ts";
import type { NetworkServiceRequest } from "../wire/nsm/api.ts";
import { NsmGrpcClient } from "../wire/nsm/grpcClient.ts";
import { X509Source } from "../wire/spiffe/x509Source.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark, Row } from "./benchmark.ts";
import { summarize } from "./stats.ts";

const NODE = "k8s-1";
const FORWARDER = `kernel@${NODE}`;

interface Hops {
  client: NsmGrpcClient;
  stop(): Promise<void>;
}

/** The no-op forwarder: names the interface and gives an address, as a forwarder's answer has them. */
const nullForwarder = forwarder("kernel", [
  {
    name: "bench/null",
    request: (c, next) => next.request(withContext(withInterfaceName(c, interfaceOf(c) ?? "nsm-1"), { ip_context: { src_ip_addrs: ["10.60.0.2/24"] } })),
    close: (c, next) => next.close(c),
  },
]);

async function startHops(dir: string, security: GrpcSecurity | undefined): Promise<Hops> {
  const tag = security ? "mtls" : "plain";
  const fwdSocket = `unix://${path.join(dir, `${tag}-fwd.sock`)}`;
  const nsmSocket = path.join(dir, `${tag}-nsm.sock`);
  const fwdStores = nsmStores(new DatabaseSync(":memory:"));
  const service = new ForwarderService({ name: FORWARDER, node: NODE, forwarder: nullForwarder, connections: fwdStores.connections });
  const fwd: ForwarderGrpcServer = createForwarderGrpcServer(service, security);
  await fwd.listen(fwdSocket);

  const stores = nsmStores(new DatabaseSync(":memory:"));
  let remote: RemoteForwarders | undefined;
  const registry = new Registry(stores, { checkService: (s) => remote!.checkService(s) });
  remote = new RemoteForwarders({ registry, serviceChecks: { kernel: () => undefined }, ...(security ? { source: security.source } : {}) });
  const manager = new Manager({ registry, connections: stores.connections, forwarders: remote });
  registry.registerEndpoint(forwarderEndpoint("kernel", NODE, fwdSocket));
  const nsmgr: NsmGrpcServer = createNsmGrpcServer({ registry, manager, ...(security ? { security } : {}) });
  await new Promise<void>((resolve) => nsmgr.listen(nsmSocket, resolve));
  const client = new NsmGrpcClient(`unix://${nsmSocket}`, { ...(security ? { spiffe: security.source } : {}), retries: 0 });
  await client.registerService({ name: "bench", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
  return {
    client,
    stop: async () => {
      client.dispose();
      remote?.close();
      nsmgr.closeAllConnections();
      await closeServer(nsmgr);
      await fwd.close();
    },
  };
}

const attach = (id: string): NetworkServiceRequest => ({
  connection: { id, network_service: "bench", labels: { nodeName: NODE, podName: "bench" } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "bench-pod" } }],
});

export const nsmSecurity: Benchmark = {
  name: "nsm-security",
  title: "added latency of mTLS (SPIRE SVIDs) and path tokens on NSM Request and Close, client -> NSMgr -> forwarder",
  defaultN: 200,
  async run({ n, log }): Promise<Row[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfm-bsec-"));
    log("starting SPIRE (server and agent) for the SVIDs");
    const spire = await startSpire({ dir: path.join(dir, "spire"), port: await freePort(), trustDomain: LAB_TRUST_DOMAIN, entries: labEntries(), log });
    const source = await X509Source.connect(`unix://${spire.workloadSocket}`);
    const plain = await startHops(dir, undefined);
    const secure = await startHops(dir, { source });
    try {
      const ms = { plain: { request: [] as number[], close: [] as number[] }, secure: { request: [] as number[], close: [] as number[] } };
      const once = async (which: "plain" | "secure", hops: Hops, id: string) => {
        let t0 = performance.now();
        const c = await hops.client.request(attach(id));
        ms[which].request.push(performance.now() - t0);
        if (c.state !== "UP") throw new Error(`${which} connection ${id} is ${c.state}`);
        t0 = performance.now();
        await hops.client.close({ id });
        ms[which].close.push(performance.now() - t0);
      };
      // Warm-up (connections, TLS sessions, JIT), then alternating samples: the same load for both.
      for (let i = 0; i < 20; i++) {
        await once("plain", plain, `warm-p${i}`);
        await once("secure", secure, `warm-s${i}`);
      }
      for (const k of Object.values(ms)) (k.request.length = 0), (k.close.length = 0);
      for (let i = 0; i < n; i++) {
        await once("plain", plain, `p${i}`);
        await once("secure", secure, `s${i}`);
      }
      const p50 = (xs: number[]) => summarize(xs).p50;
      const added = (what: "request" | "close") => {
        const d = p50(ms.secure[what]) - p50(ms.plain[what]);
        return `p50 +${d.toFixed(2)} ms (${(p50(ms.secure[what]) / p50(ms.plain[what])).toFixed(2)}x plain)`;
      };
      return [
        timingRow("Request, plain h2c", ms.plain.request),
        timingRow("Request, mTLS + path tokens", ms.secure.request, added("request")),
        timingRow("Close, plain h2c", ms.plain.close),
        timingRow("Close, mTLS + path tokens", ms.secure.close, added("close")),
      ];
    } finally {
      await secure.stop();
      await plain.stop();
      source.close();
      await spire.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
