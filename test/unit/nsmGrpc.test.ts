// NSM's gRPC API of the lab (lab/nsm/grpc), driven through the generated clients over a real HTTP/2
// socket: Request/Close and heal, errors as gRPC codes with the manager's messages, the monitor's
// stream, the registries' Find with watch (registration, expiry, unregister), health, a unix
// socket, and a plain gRPC client (grpc-js) that is not Connect. Forwarders are fakes here
// (test/lab covers the real ones).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { HttpError } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import type { NsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { toApiError } from "../../lab/nsm/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import type { NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import { ConnectionSchema } from "../../wire/nsm/gen/connection_pb.ts";
import { HealthCheckRequestSchema, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "../../wire/nsm/gen/grpc/health/v1/health_pb.ts";
import { NetworkServiceRequestSchema } from "../../wire/nsm/gen/networkservice_pb.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { requestToProto } from "../../wire/nsm/protoMapping.ts";
import { interfaceOf, withContext, withInterfaceName } from "../../nsm/connection.ts";
import { NsmError } from "../../nsm/errors.ts";
import { forwarder, ForwarderRegistry } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";

/** How often the fake forwarder built each connection; a failure it throws next. */
const builds = new Map<string, number>();
let failNext: Error | undefined;
const kernel = forwarder(
  "kernel",
  [
    {
      name: "kernel/fake",
      async request(c, next) {
        if (failNext) {
          const e = failNext;
          failNext = undefined;
          throw e;
        }
        builds.set(c.id, (builds.get(c.id) ?? 0) + 1);
        const named = withInterfaceName(c, interfaceOf(c) ?? `nsm-${builds.size}`);
        return next.request(withContext(named, { ip_context: { src_ip_addrs: ["10.60.0.2/24"] }, MTU: 1500 }));
      },
      async close(c, next) {
        builds.delete(c.id);
        await next.close(c);
      },
    },
  ],
  (s) => (s.kernel?.cidr ? undefined : "kernel.cidr is required"),
);

const stores = nsmStores(new DatabaseSync(":memory:"));
const forwarders = new ForwarderRegistry([kernel]);
const registry = new Registry(stores, { checkService: (s) => forwarders.checkService(s) });
const manager = new Manager({ registry, connections: stores.connections, forwarders });
const servers = { grpc: createNsmGrpcServer({ registry, manager }) };
const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), "nsm-grpc-"));
const socketPath = path.join(socketDir, "nsm.io.sock");
const overUnix: NsmGrpcServer = createNsmGrpcServer({ registry, manager });

let port: number;
let client: NsmGrpcClient;

beforeAll(async () => {
  registry.registerEndpoint(forwarderEndpoint("kernel", "k8s-1"));
  port = await listen(servers.grpc, 0);
  client = new NsmGrpcClient(`tcp://127.0.0.1:${port}`, { timeoutMs: 10_000 });
  await new Promise<void>((resolve) => overUnix.listen(socketPath, resolve));
});

afterAll(async () => {
  client?.dispose();
  await Promise.all([close(servers.grpc), close(overUnix)]);
  fs.rmSync(socketDir, { recursive: true, force: true });
});

const green = { name: "green", payload: "ETHERNET" as const, forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } };
const attach = (id: string, service = "green", name?: string): NetworkServiceRequest => ({
  connection: { id, network_service: service, labels: { nodeName: "k8s-1", podName: "p" } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "x-pod-p", ...(name ? { name } : {}) } }],
});

/** The gRPC failure of `p`. */
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
/** The message the lab answers for the same call made on the manager or registry itself (what the JSON API answered). */
const coreMessageOf = (call: () => unknown) =>
  (async () => call())().then(
    () => undefined,
    (e: unknown) => toApiError(e).message,
  );

/** The next message of a stream, waited for within a bound. */
async function next<T>(events: AsyncIterator<T>, what: string): Promise<T> {
  const r = await eventually(() => events.next(), { what, timeoutMs: 10_000, attempts: 1 });
  if (r.done) throw new Error(`the stream ended before ${what}`);
  return r.value;
}

describe("NSM gRPC: health", () => {
  it("answers SERVING for the server and each service it serves, NOT_FOUND for another", async () => {
    expect(await client.check()).toBe("SERVING");
    expect(await client.check("networkservice.NetworkService")).toBe("SERVING");
    expect(await client.check("registry.NetworkServiceEndpointRegistry")).toBe("SERVING");
    expect((await failureOf(client.check("nope.Nope")))?.code).toBe(Code.NotFound);
  });
});

describe("NSM gRPC: NetworkService", () => {
  beforeAll(async () => {
    await client.registerService(green);
  });

  it("Request builds a kernel-forwarder connection (state UP, its context, its path) and Close removes it", async () => {
    const c = await client.request(attach("g1"));
    expect(c).toMatchObject({
      id: "g1",
      network_service: "green",
      state: "UP",
      payload: "ETHERNET",
      network_service_endpoint_name: "kernel@k8s-1",
      mechanism: { cls: "LOCAL", type: "KERNEL", parameters: { name: "nsm-1", netnsName: "x-pod-p", inodeURL: "file:///var/run/netns/x-pod-p" } },
      context: { ip_context: { src_ip_addrs: ["10.60.0.2/24"] }, MTU: 1500, extra_context: { "kernel.cidr": "10.60.0.0/24" } },
    });
    expect(c.path?.path_segments.map((s) => s.name)).toEqual(["tfmesh-client", "nsmgr@k8s-1", "kernel@k8s-1"]);
    expect(manager.get("g1")).toEqual(c);
    await client.close({ id: "g1" });
    expect(manager.get("g1")).toBeUndefined();
    expect(builds.has("g1")).toBe(false);
    await client.close({ id: "g1" });
  });

  it("a repeated Request heals: the same connection, built again, its interface name kept", async () => {
    const first = await client.request(attach("g2", "green", "eth7"));
    const again = await client.request(attach("g2"));
    expect(again).toEqual(first);
    expect(builds.get("g2")).toBe(2);
    expect(manager.list().filter((c) => c.id === "g2")).toHaveLength(1);
    await client.close({ id: "g2" });
  });

  it("answers bad requests with the gRPC code of the manager's status and the same message", async () => {
    const cases: Array<{ what: string; grpc: () => Promise<unknown>; core: () => unknown; code: Code }> = [
      {
        what: "no connection",
        grpc: () => client.networkService.request(create(NetworkServiceRequestSchema)),
        core: () => manager.request({} as NetworkServiceRequest),
        code: Code.InvalidArgument,
      },
      { what: "a bad id", grpc: () => client.request(attach("-bad")), core: () => manager.request(attach("-bad")), code: Code.InvalidArgument },
      { what: "an unknown service", grpc: () => client.request(attach("g3", "nope")), core: () => manager.request(attach("g3", "nope")), code: Code.NotFound },
      {
        what: "no kernel mechanism",
        grpc: () => client.request({ ...attach("g3"), mechanism_preferences: [{ cls: "LOCAL", type: "MEMIF" }] }),
        core: () => manager.request({ ...attach("g3"), mechanism_preferences: [{ cls: "LOCAL", type: "MEMIF" }] }),
        code: Code.InvalidArgument,
      },
      { what: "a close without id", grpc: () => client.close({ id: "" }), core: () => manager.close({ id: "" }), code: Code.InvalidArgument },
      {
        what: "a service record the forwarder refuses",
        grpc: () => client.registerService({ ...green, name: "bad", kernel: undefined }),
        core: () => registry.registerService({ ...green, name: "bad", kernel: undefined } as unknown as typeof green),
        code: Code.InvalidArgument,
      },
      {
        what: "unregistering an unknown service",
        grpc: () => client.unregisterService("nope"),
        core: () => manager.unregisterService("nope"),
        code: Code.NotFound,
      },
    ];
    for (const c of cases) {
      const failure = await failureOf(c.grpc());
      expect(failure?.code, c.what).toBe(c.code);
      const expected = await coreMessageOf(c.core);
      expect(expected, c.what).toBeDefined();
      expect(failure?.rawMessage, c.what).toBe(expected);
    }
  });

  it("answers a conflict with FAILED_PRECONDITION and a failure of TF or an agent behind the forwarder with UNAVAILABLE", async () => {
    failNext = new NsmError(409, 'interface name "eth0" is taken in the pod');
    const taken = await failureOf(client.request(attach("g4")));
    expect([taken?.code, taken?.rawMessage]).toEqual([Code.FailedPrecondition, 'interface name "eth0" is taken in the pod']);
    failNext = new HttpError("POST", "http://agent/port", 500, "boom", undefined);
    const down = await failureOf(client.request(attach("g4")));
    expect(down?.code).toBe(Code.Unavailable);
    expect(down?.rawMessage).toBe("kernel/fake: POST http://agent/port failed with 500: boom");
    await client.request(attach("g5"));
    const inUse = await failureOf(client.unregisterService("green"));
    expect(inUse?.code).toBe(Code.FailedPrecondition);
    expect(inUse?.rawMessage).toBe(await coreMessageOf(() => manager.unregisterService("green")));
    await client.close({ id: "g5" });
  });
});

describe("NSM gRPC: MonitorConnections", () => {
  it("streams INITIAL_STATE_TRANSFER, then UPDATE for a request and a heal, and DELETE for a close", async () => {
    await client.registerService(green);
    const before = await client.request(attach("m1"));
    const stop = new AbortController();
    const events = client.monitorConnections({}, stop.signal)[Symbol.asyncIterator]();
    try {
      const initial = await next(events, "the initial state");
      expect(initial.type).toBe("INITIAL_STATE_TRANSFER");
      expect(initial.connections).toEqual({ m1: before });

      const made = await client.request(attach("m2"));
      expect(await next(events, "the UPDATE of m2")).toEqual({ type: "UPDATE", connections: { m2: made } });
      const healed = await client.request(attach("m2"));
      expect(await next(events, "the UPDATE of the heal")).toEqual({ type: "UPDATE", connections: { m2: healed } });
      await client.close({ id: "m2" });
      expect(await next(events, "the DELETE of m2")).toEqual({ type: "DELETE", connections: { m2: healed } });
    } finally {
      stop.abort();
      await client.close({ id: "m1" });
    }
  });

  it("sees only the connections in its scope: its network services, its path segments", async () => {
    await client.registerService({ ...green, name: "blue", kernel: { cidr: "10.61.0.0/24" } });
    await client.request(attach("s1", "blue"));
    const stop = new AbortController();
    const events = client.monitorConnections({ network_services: ["green"], path_segments: [{ name: "", id: "", token: "" }, { name: "kernel@k8s-1", id: "", token: "" }] }, stop.signal)[
      Symbol.asyncIterator
    ]();
    try {
      expect(await next(events, "the initial state")).toEqual({ type: "INITIAL_STATE_TRANSFER", connections: {} });
      await client.request(attach("s2", "blue"));
      const mine = await client.request(attach("s3", "green"));
      expect(await next(events, "the UPDATE of s3")).toEqual({ type: "UPDATE", connections: { s3: mine } });
    } finally {
      stop.abort();
      for (const id of ["s1", "s2", "s3"]) await client.close({ id });
    }
  });
});

describe("NSM gRPC: registry Find", () => {
  it("answers the endpoints there and ends without watch", async () => {
    const found = [];
    for await (const f of client.findEndpoints({ network_service_names: ["forwarder"] })) found.push(f);
    expect(found.map((f) => [f.endpoint.name, f.deleted])).toEqual([["kernel@k8s-1", false]]);
    expect(found[0]?.endpoint.expiration_time).toBe(registry.getEndpoint("kernel@k8s-1")?.expiration_time);
  });

  it("with watch, streams a registration, its expiry and an unregister", async () => {
    const stop = new AbortController();
    const events = client.findEndpoints({ network_service_labels: { forwarder: { labels: { type: "kernel" } } } }, { watch: true, signal: stop.signal })[Symbol.asyncIterator]();
    try {
      expect(await next(events, "the registered forwarder")).toMatchObject({ endpoint: { name: "kernel@k8s-1" }, deleted: false });

      const expiring = { ...forwarderEndpoint("kernel", "k8s-2"), expiration_time: new Date(Date.now() + 300).toISOString() };
      expect(await client.registerEndpoint(expiring)).toEqual(expiring);
      expect(await next(events, "the registration")).toEqual({ endpoint: expiring, deleted: false });
      expect(await next(events, "its expiry")).toEqual({ endpoint: expiring, deleted: true });
      expect(registry.getEndpoint("kernel@k8s-2")).toBeUndefined();

      const again = await client.registerEndpoint(forwarderEndpoint("kernel", "k8s-2"));
      expect(await next(events, "the new registration")).toEqual({ endpoint: again, deleted: false });
      await client.unregisterEndpoint("kernel@k8s-2");
      expect(await next(events, "the unregister")).toEqual({ endpoint: again, deleted: true });
      await client.unregisterEndpoint("kernel@k8s-2");
    } finally {
      stop.abort();
    }
  });

  it("with watch, streams the services registered and unregistered", async () => {
    const stop = new AbortController();
    await client.registerService(green);
    const events = client.findServices({ name: "yellow" }, { watch: true, signal: stop.signal })[Symbol.asyncIterator]();
    const yellow = { ...green, name: "yellow" };
    try {
      // The query names one service: green, registered before and after, is not in the stream.
      const first = next(events, "the registration");
      await client.registerService(yellow);
      expect(await first).toEqual({ service: yellow, deleted: false });
      await client.registerService(green);
      await client.unregisterService("yellow");
      expect(await next(events, "the unregister")).toEqual({ service: yellow, deleted: true });
    } finally {
      stop.abort();
    }
  });
});

describe("NSM gRPC: other transports and clients", () => {
  it("serves over a unix socket", async () => {
    const local = new NsmGrpcClient(`unix://${socketPath}`);
    try {
      expect(await local.check()).toBe("SERVING");
      expect(await local.request(attach("u1"))).toMatchObject({ id: "u1", state: "UP" });
      await local.close({ id: "u1" });
    } finally {
      local.dispose();
    }
  });

  /** One unary call by grpc-js, an implementation of plain gRPC that is not Connect. */
  function grpcJsCall<I extends DescMessage, O extends DescMessage>(target: string, method: string, input: I, output: O, message: MessageShape<I>) {
    const c = new grpc.Client(target, grpc.credentials.createInsecure());
    return new Promise<MessageShape<O>>((resolve, reject) => {
      c.makeUnaryRequest(
        method,
        (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
        (b: Buffer) => fromBinary(output, b),
        message,
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
    }).finally(() => c.close());
  }

  it("answers grpc-js over TCP and the unix socket, statuses included", async () => {
    for (const target of [`127.0.0.1:${port}`, `unix:${socketPath}`]) {
      const health = await grpcJsCall(target, "/grpc.health.v1.Health/Check", HealthCheckRequestSchema, HealthCheckResponseSchema, create(HealthCheckRequestSchema));
      expect(health.status, target).toBe(HealthCheckResponse_ServingStatus.SERVING);
      const c = await grpcJsCall(target, "/networkservice.NetworkService/Request", NetworkServiceRequestSchema, ConnectionSchema, requestToProto(attach("j1")));
      expect([c.id, c.networkServiceEndpointName], target).toEqual(["j1", "kernel@k8s-1"]);
      const err = (await grpcJsCall(target, "/networkservice.NetworkService/Request", NetworkServiceRequestSchema, ConnectionSchema, requestToProto(attach("j2", "nope"))).catch(
        (e: unknown) => e,
      )) as grpc.ServiceError;
      expect([err.code, err.details], target).toEqual([grpc.status.NOT_FOUND, 'network service "nope" is not registered']);
      await client.close({ id: "j1" });
    }
  });
});
