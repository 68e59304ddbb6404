// X509Source against a fake SPIFFE Workload API (connect-node gRPC on a temp unix socket, the
// header checked as a SPIRE agent does): the first SVID, a rotation, a reconnect after the agent
// restarts, and the two errors that say what to do.
import { execFile } from "node:child_process";
import fs from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SpiffeWorkloadAPI, X509SVIDResponseSchema, type X509SVIDResponse } from "../../wire/spiffe/gen/workload_pb.ts";
import { endpointFromEnv, endpointSocketPath, WorkloadApiError, X509Source, type X509Svid } from "../../wire/spiffe/x509Source.ts";
import { eventually } from "../../harness/eventually.ts";
import { certFactory, type IssuedCert, type TestCa } from "./fixtures/spiffeCerts.ts";

interface FakeAgent {
  socketPath: string;
  /** Sends `response` on every open stream, and to later ones first. */
  push(response: X509SVIDResponse): void;
  /** Answers PermissionDenied ("no identity issued"), as an agent with no matching entry does. */
  denyAll: boolean;
  /** How many FetchX509SVID calls arrived, and how many without the header. */
  calls: number;
  headerless: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function fakeAgent(socketPath: string, initial: X509SVIDResponse): FakeAgent {
  let latest = initial;
  const waiters = new Set<() => void>();
  let server: http2.Http2Server | undefined;
  let shutdown: AbortController | undefined;
  const sessions = new Set<http2.ServerHttp2Session>();
  const agent: FakeAgent = {
    socketPath,
    denyAll: false,
    calls: 0,
    headerless: 0,
    push(response) {
      latest = response;
      for (const w of waiters) w();
    },
    async start() {
      shutdown = new AbortController();
      const handler = connectNodeAdapter({
        grpc: true,
        connect: false,
        grpcWeb: false,
        shutdownSignal: shutdown.signal,
        routes: (router) =>
          router.service(SpiffeWorkloadAPI, {
            async *fetchX509SVID(_req, ctx) {
              agent.calls++;
              if (ctx.requestHeader.get("workload.spiffe.io") !== "true") {
                agent.headerless++;
                // SPIRE's agent: the security header is required.
                throw new ConnectError("security header missing from request", Code.InvalidArgument);
              }
              if (agent.denyAll) throw new ConnectError("no identity issued", Code.PermissionDenied);
              let sent: X509SVIDResponse | undefined;
              while (!ctx.signal.aborted) {
                if (sent !== latest) {
                  sent = latest;
                  yield latest;
                }
                await new Promise<void>((resolve) => {
                  const wake = () => {
                    waiters.delete(wake);
                    resolve();
                  };
                  waiters.add(wake);
                  ctx.signal.addEventListener("abort", wake, { once: true });
                });
              }
            },
          }),
      });
      fs.rmSync(socketPath, { force: true });
      server = http2.createServer(handler);
      server.on("session", (s) => {
        sessions.add(s);
        s.once("close", () => sessions.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(socketPath, resolve);
      });
    },
    async stop() {
      if (!server) return;
      shutdown?.abort();
      for (const w of waiters) w();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
      fs.rmSync(socketPath, { force: true });
    },
  };
  return agent;
}

function response(leaf: IssuedCert, ca: TestCa, spiffeId: string): X509SVIDResponse {
  return create(X509SVIDResponseSchema, {
    svids: [{ spiffeId, x509Svid: leaf.certDer, x509SvidKey: leaf.keyDer, bundle: ca.certDer, hint: "" }],
  });
}

/** Waits until `check` stops throwing. */
const until = (what: string, check: () => void, timeoutMs = 8_000) =>
  eventually(() => {
    check();
    return true;
  }, { what, timeoutMs });

const certs = certFactory();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spiffe-wl-"));
let ca: TestCa;
let first: IssuedCert;
let second: IssuedCert;
const ID = "spiffe://test.lab/ns/default/sa/forwarder";

beforeAll(async () => {
  ca = await certs.ca("workload CA");
  first = await certs.issue(ca, "first", { uris: [ID] });
  second = await certs.issue(ca, "second", { uris: [ID] });
});

afterAll(() => {
  certs.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("endpoints", () => {
  it("takes unix:///path, unix:/path and an absolute path", () => {
    expect(endpointSocketPath("unix:///run/spire/sockets/agent.sock")).toBe("/run/spire/sockets/agent.sock");
    expect(endpointSocketPath("unix:/run/spire/sockets/agent.sock")).toBe("/run/spire/sockets/agent.sock");
    expect(endpointSocketPath("/tmp/agent.sock")).toBe("/tmp/agent.sock");
  });

  it("refuses the rest, saying what it wants", () => {
    expect(() => endpointSocketPath("tcp://127.0.0.1:8081")).toThrow(/only unix sockets are supported \(unix:\/\/\/path\/to\/agent.sock\), not tcp:/);
    expect(() => endpointSocketPath("unix://host/agent.sock")).toThrow(/names no host/);
    expect(() => endpointSocketPath("agent.sock")).toThrow(/expected unix:\/\/\/path\/to\/agent.sock or an absolute path/);
  });

  it("reads SPIFFE_ENDPOINT_SOCKET", () => {
    expect(endpointFromEnv({ SPIFFE_ENDPOINT_SOCKET: "unix:///a.sock" })).toBe("unix:///a.sock");
    expect(endpointFromEnv({ SPIFFE_ENDPOINT_SOCKET: " " })).toBeUndefined();
    expect(endpointFromEnv({})).toBeUndefined();
  });
});

describe("X509Source", () => {
  const open: { close(): void }[] = [];
  const agents: FakeAgent[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    for (const a of agents.splice(0)) await a.stop();
  });
  const startAgent = async (name: string, initial = response(first, ca, ID)) => {
    const agent = fakeAgent(path.join(dir, `${name}.sock`), initial);
    agents.push(agent);
    await agent.start();
    return agent;
  };
  const connect = async (endpoint: string, opts?: { timeoutMs?: number }) => {
    const source = await X509Source.connect(endpoint, opts);
    open.push(source);
    return source;
  };

  it("gets the SVID, sending the header", async () => {
    const agent = await startAgent("get");
    const source = await connect(`unix://${agent.socketPath}`);
    const svid = source.current();
    expect(svid.spiffeId).toBe(ID);
    expect(svid.leaf.fingerprint256).toBe(first.cert.fingerprint256);
    expect(svid.leaf.checkPrivateKey(svid.privateKey)).toBe(true);
    expect(svid.certChainPem).toBe(first.certPem);
    expect(svid.bundlePem).toBe(ca.certPem);
    expect(svid.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(svid.notAfter.getTime()).toBe(Date.parse(first.cert.validTo));
    expect(agent.headerless).toBe(0);
  });

  it("does not keep a process alive that is otherwise done (a Pulumi program's lookups)", async () => {
    const agent = await startAgent("background");
    const program = `import { X509Source } from ${JSON.stringify(new URL("../../wire/spiffe/x509Source.ts", import.meta.url).pathname)};
const s = await X509Source.connect(${JSON.stringify(agent.socketPath)});
process.stdout.write(s.current().spiffeId);`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", program], { timeout: 10_000 });
    expect(stdout).toBe(ID);
    expect(agent.calls).toBeGreaterThan(0);
  });

  it("a call without the header is refused by the fake (it checks it)", async () => {
    const agent = await startAgent("headerless");
    const { createClient } = await import("@connectrpc/connect");
    const { createGrpcTransport, Http2SessionManager } = await import("@connectrpc/connect-node");
    const net = await import("node:net");
    const session = new Http2SessionManager("http://localhost", {}, { createConnection: () => net.connect(agent.socketPath) });
    const client = createClient(SpiffeWorkloadAPI, createGrpcTransport({ baseUrl: "http://localhost", sessionManager: session }));
    try {
      await expect((async () => {
        for await (const _ of client.fetchX509SVID({})) break;
      })()).rejects.toMatchObject({ code: Code.InvalidArgument });
    } finally {
      session.abort();
    }
    expect(agent.headerless).toBe(1);
  });

  it("sees a rotation", async () => {
    const agent = await startAgent("rotate");
    const source = await connect(agent.socketPath);
    const seen: X509Svid[] = [];
    const stop = source.onUpdate((s) => seen.push(s));
    agent.push(response(second, ca, ID));
    await until("the rotation heard", () => expect(seen).toHaveLength(1));
    expect(seen[0]!.leaf.fingerprint256).toBe(second.cert.fingerprint256);
    expect(source.current().leaf.fingerprint256).toBe(second.cert.fingerprint256);
    stop();
    agent.push(response(first, ca, ID));
    await until("the second rotation", () => expect(source.current().leaf.fingerprint256).toBe(first.cert.fingerprint256));
    expect(seen).toHaveLength(1);
  });

  it("reconnects after the agent restarts, keeping the last SVID meanwhile", async () => {
    const agent = await startAgent("restart");
    const source = await connect(agent.socketPath);
    await agent.stop();
    expect(source.current().leaf.fingerprint256).toBe(first.cert.fingerprint256);
    await new Promise((r) => setTimeout(r, 300));
    expect(source.current().leaf.fingerprint256).toBe(first.cert.fingerprint256);
    agent.push(response(second, ca, ID));
    const calls = agent.calls;
    await agent.start();
    await until("the SVID after the restart", () => expect(source.current().leaf.fingerprint256).toBe(second.cert.fingerprint256));
    expect(agent.calls).toBeGreaterThan(calls);
  });

  it("no socket: says to start the lab or the agent and to set SPIFFE_ENDPOINT_SOCKET", async () => {
    const missing = path.join(dir, "missing.sock");
    const err = await X509Source.connect(`unix://${missing}`, { timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkloadApiError);
    expect((err as WorkloadApiError).problem).toBe("unreachable");
    expect((err as Error).message).toBe(
      `no SPIFFE Workload API at ${missing}: is the lab up (npx tfmesh lab up) or the SPIRE agent running? Set SPIFFE_ENDPOINT_SOCKET`,
    );
  });

  it("no identity: says no registration entry matches this uid and gid", async () => {
    const agent = await startAgent("deny");
    agent.denyAll = true;
    const err = await X509Source.connect(agent.socketPath, { timeoutMs: 400 }).catch((e: unknown) => e);
    expect((err as WorkloadApiError).problem).toBe("no-identity");
    expect((err as Error).message).toBe(
      `the SPIRE agent at ${agent.socketPath} has no identity for this process (uid ${process.getuid!()}, gid ${process.getgid!()}): no registration entry matches it`,
    );
    // It kept asking meanwhile (a registration entry may appear), with back-off.
    expect(agent.calls).toBeGreaterThanOrEqual(2);
    expect(agent.calls).toBeLessThan(6);
  });

  it("an SVID whose certificate names another ID is refused as unusable", async () => {
    const agent = await startAgent("mismatch", response(first, ca, "spiffe://test.lab/someone-else"));
    const err = await X509Source.connect(agent.socketPath, { timeoutMs: 400 }).catch((e: unknown) => e);
    expect((err as WorkloadApiError).problem).toBe("bad-response");
    expect((err as Error).message).toMatch(/sent an unusable X.509-SVID: the X.509-SVID for spiffe:\/\/test.lab\/someone-else names spiffe:\/\/test.lab\/ns\/default\/sa\/forwarder/);
  });

  it("an abort before the first SVID rejects", async () => {
    const agent = await startAgent("abort");
    agent.denyAll = true;
    const ac = new AbortController();
    const pending = X509Source.connect(agent.socketPath, { signal: ac.signal, timeoutMs: 5_000 });
    setTimeout(() => ac.abort(new Error("stopping")), 50);
    await expect(pending).rejects.toThrow("stopping");
  });
});
