// NSM's security model on the lab's NSMgr (lab/nsm/grpc with nsm/grpc/callSecurity.ts), with
// SVIDs from a test CA (no SPIRE here; test/lab/nsm-security covers the lab's SPIRE): every call is
// mTLS, a Request's path carries the caller's ES256 token checked as NSM's default policies do,
// only the identity that made a connection may close it, and only the identity that registered a
// name may change or remove it. Also the path's placement of each hop's segment (updatepath).
import crypto from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import tls from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { close, listen } from "../../lib/http/server.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import { forwarder, ForwarderRegistry, placeSegment } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";
import { acceptPath } from "../../nsm/security/pathPolicy.ts";
import { interfaceOf, withContext, withInterfaceName } from "../../nsm/connection.ts";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import type { NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NetworkService } from "../../wire/nsm/gen/networkservice_pb.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { tokenClaims, TOKEN_EXPIRES_HEADER, TOKEN_HEADER } from "../../wire/nsm/pathToken.ts";
import { requestToProto } from "../../wire/nsm/protoMapping.ts";
import { signJwt } from "../../wire/spiffe/jwt.ts";
import type { SvidSource } from "../../wire/spiffe/shared.ts";
import { clientTlsOptions } from "../../wire/spiffe/tls.ts";
import type { X509Svid } from "../../wire/spiffe/x509Source.ts";
import { certFactory } from "./fixtures/spiffeCerts.ts";
import type { CertFactory } from "./fixtures/spiffeCerts.ts";

const TD = "spiffe://test.lab";
const ids = { nsmgr: `${TD}/nsmgr`, alice: `${TD}/alice`, bob: `${TD}/bob` };
let certs: CertFactory;
const svid: Record<string, X509Svid> = {};
let foreign: X509Svid;
const fixed = (s: X509Svid): SvidSource => ({ current: () => s, onUpdate: () => () => {} });

const kernel = forwarder(
  "kernel",
  [
    {
      name: "kernel/fake",
      request: async (c, next) => next.request(withContext(withInterfaceName(c, interfaceOf(c) ?? "nsm-1"), { ip_context: { src_ip_addrs: ["10.60.0.2/24"] } })),
      close: (c, next) => next.close(c),
    },
  ],
  () => undefined,
);
let server: ReturnType<typeof createNsmGrpcServer>;
let target: string;
let port: number;
const clients: NsmGrpcClient[] = [];
const as = (who: keyof typeof svid) => {
  const c = new NsmGrpcClient(target, { spiffe: fixed(svid[who]!), timeoutMs: 5000, name: who });
  clients.push(c);
  return c;
};

const attach = (id: string): NetworkServiceRequest => ({
  connection: { id, network_service: "green", labels: { nodeName: "k8s-1", podName: "p" } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "x-pod-p" } }],
});
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );

/** A Request over mTLS as `who`, with the headers `headers(peer)` instead of the client's own token. */
async function rawRequest(who: X509Svid, headers: (peer: crypto.X509Certificate) => Record<string, string>, req: NetworkServiceRequest) {
  let socket: tls.TLSSocket | undefined;
  const session = new Http2SessionManager(`https://127.0.0.1:${port}`, {}, { createConnection: () => (socket = tls.connect({ ...clientTlsOptions(who), host: "127.0.0.1", port })) });
  const transport = createGrpcTransport({
    baseUrl: `https://127.0.0.1:${port}`,
    sessionManager: session,
    interceptors: [
      (next) => async (r) => {
        await session.connect();
        for (const [k, v] of Object.entries(headers(socket!.getPeerX509Certificate()!))) r.header.set(k, v);
        return next(r);
      },
    ],
  });
  try {
    const withPath = { ...req, connection: { ...req.connection, path: { index: 0, path_segments: [{ name: "raw", id: req.connection.id }] } } };
    return await createClient(NetworkService, transport).request(requestToProto(withPath));
  } finally {
    session.abort();
  }
}

beforeAll(async () => {
  certs = certFactory();
  const ca = await certs.ca("test-ca");
  for (const [name, id] of Object.entries(ids)) svid[name] = await certs.svid(ca, id);
  foreign = await certs.svid(await certs.ca("other-ca"), ids.alice);
  const stores = nsmStores(new DatabaseSync(":memory:"));
  const forwarders = new ForwarderRegistry([kernel]);
  const registry = new Registry(stores, { checkService: (s) => forwarders.checkService(s) });
  const manager = new Manager({ registry, connections: stores.connections, forwarders });
  registry.registerEndpoint(forwarderEndpoint("kernel", "k8s-1", "inproc://"));
  server = createNsmGrpcServer({ registry, manager, security: { source: fixed(svid.nsmgr!) } });
  port = await listen(server, 0);
  target = `tcp://127.0.0.1:${port}`;
  await as("alice").registerService({ name: "green", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.dispose();
  server?.closeAllConnections();
  if (server) await close(server);
  certs?.remove();
});

describe("NSM's gRPC API with SPIFFE mTLS", () => {
  it("serves a client with an SVID of its trust domain, and puts the caller's token in the caller's path segment", async () => {
    const c = await as("alice").request(attach("a1"));
    expect(c.state).toBe("UP");
    const first = c.path!.path_segments[0]!;
    expect(first.name).toBe("alice");
    const claims = tokenClaims(first.token!);
    expect(claims.sub).toBe(ids.alice);
    expect(claims.aud).toEqual([ids.nsmgr]);
    expect(claims.exp * 1000).toBeGreaterThan(Date.now());
    expect(Date.parse(first.expires!)).toBe(claims.exp * 1000);
  });

  it("refuses a cleartext client, and one whose certificate another CA issued", async () => {
    const plain = new NsmGrpcClient(target, { timeoutMs: 3000 });
    clients.push(plain);
    expect(await failure(plain.check())).toBeInstanceOf(ConnectError);
    const stranger = new NsmGrpcClient(target, { spiffe: fixed(foreign), timeoutMs: 3000 });
    clients.push(stranger);
    expect(await failure(stranger.request(attach("x1")))).toBeInstanceOf(ConnectError);
  });

  it("refuses a Request without a token (UNAUTHENTICATED), with a token its TLS peer did not sign, and one meant for another hop (PERMISSION_DENIED)", async () => {
    const none = await failure(rawRequest(svid.alice!, () => ({}), attach("t1")));
    expect(none?.code).toBe(Code.Unauthenticated);
    const forgedKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const exp = Math.floor(Date.now() / 1000) + 60;
    const forged = await failure(rawRequest(svid.alice!, () => ({ [TOKEN_HEADER]: signJwt(forgedKey, { sub: ids.alice, aud: [ids.nsmgr], exp }) }), attach("t2")));
    expect(forged?.code).toBe(Code.PermissionDenied);
    expect(forged?.rawMessage).toContain("prev_token_signed");
    const elsewhere = await failure(rawRequest(svid.alice!, () => ({ [TOKEN_HEADER]: signJwt(svid.alice!.privateKey, { sub: ids.alice, aud: [`${TD}/someone-else`], exp }) }), attach("t3")));
    expect(elsewhere?.code).toBe(Code.PermissionDenied);
    expect(elsewhere?.rawMessage).toContain("tokens_chained");
    const asBob = await failure(rawRequest(svid.alice!, () => ({ [TOKEN_HEADER]: signJwt(svid.alice!.privateKey, { sub: ids.bob, aud: [ids.nsmgr], exp }) }), attach("t4")));
    expect(asBob?.rawMessage).toContain("the caller is " + ids.alice);
    const expired = Math.floor(Date.now() / 1000) - 5;
    const late = await failure(rawRequest(svid.alice!, () => ({ [TOKEN_HEADER]: signJwt(svid.alice!.privateKey, { sub: ids.alice, aud: [ids.nsmgr], exp: expired }), [TOKEN_EXPIRES_HEADER]: new Date(expired * 1000).toISOString() }), attach("t5")));
    expect(late?.rawMessage).toContain("tokens_expired");
  });

  it("lets only the identity that made a connection refresh or close it", async () => {
    await as("alice").request(attach("own-1"));
    const closeByBob = await failure(as("bob").close({ id: "own-1" }));
    expect(closeByBob?.code).toBe(Code.PermissionDenied);
    expect(closeByBob?.rawMessage).toContain(`connection own-1 belongs to ${ids.alice}`);
    expect((await failure(as("bob").request(attach("own-1"))))?.code).toBe(Code.PermissionDenied);
    expect(await as("alice").getConnection("own-1")).toBeDefined();
    await as("alice").close({ id: "own-1" });
    expect(await as("alice").getConnection("own-1")).toBeUndefined();
  });

  it("lets only the identity that registered a name change or remove it", async () => {
    await as("alice").registerEndpoint({ name: "fwd-x", network_service_names: ["forwarder"], url: "unix:///nowhere.sock" });
    const mine = (await as("alice").listEndpoints("forwarder")).find((e) => e.name === "fwd-x");
    expect(mine?.path_ids).toEqual([ids.alice]);
    const takeover = await failure(as("bob").registerEndpoint({ name: "fwd-x", network_service_names: ["forwarder"], url: "unix:///bob.sock" }));
    expect(takeover?.code).toBe(Code.PermissionDenied);
    expect(takeover?.rawMessage).toContain(`network service endpoint fwd-x was registered by ${ids.alice}`);
    expect((await failure(as("bob").unregisterEndpoint("fwd-x")))?.code).toBe(Code.PermissionDenied);
    expect((await failure(as("bob").deleteNetworkService("green")))?.code).toBe(Code.PermissionDenied);
    await as("alice").unregisterEndpoint("fwd-x");
    expect((await as("alice").listEndpoints("forwarder")).map((e) => e.name)).toEqual(["kernel@k8s-1"]);
  });
});

describe("path tokens along a path", () => {
  const exp = () => Math.floor(Date.now() / 1000) + 60;
  const token = (who: X509Svid, aud: string) => signJwt(who.privateKey, { sub: who.spiffeId, aud: [aud], exp: exp() });

  it("accepts a chained path and refuses a segment whose token is for someone other than the next hop", () => {
    const call = { peer: svid.nsmgr!.leaf, peerId: ids.nsmgr, token: token(svid.nsmgr!, ids.bob), tokenExpires: undefined };
    const good = { index: 1, path_segments: [{ name: "alice", id: "c", token: token(svid.alice!, ids.nsmgr) }, { name: "nsmgr", id: "c" }] };
    expect(acceptPath(good, call, svid.bob!).path_segments[1]!.token).toBe(call.token);
    const broken = { index: 1, path_segments: [{ name: "alice", id: "c", token: token(svid.alice!, ids.bob) }, { name: "nsmgr", id: "c" }] };
    expect(() => acceptPath(broken, call, svid.bob!)).toThrow(/tokens_chained: the token of path segment 0 \(alice\) is for spiffe:\/\/test.lab\/bob, but path segment 1 \(nsmgr\) is spiffe:\/\/test.lab\/nsmgr/);
  });

  it("places each hop's segment after its caller's, keeping the rest on a refresh and cutting it on a new hop", () => {
    expect(placeSegment(undefined, "m", "c")).toEqual({ index: 0, path_segments: [{ name: "m", id: "c" }] });
    const client = { index: 0, path_segments: [{ name: "c", id: "1" }] };
    const built = placeSegment(client, "m", "1");
    expect(built).toEqual({ index: 1, path_segments: [{ name: "c", id: "1" }, { name: "m", id: "1" }] });
    const full = { index: 0, path_segments: [{ name: "c", id: "1" }, { name: "m", id: "1", token: "t" }, { name: "f", id: "1" }] };
    expect(placeSegment(full, "m", "1")).toEqual({ index: 1, path_segments: full.path_segments });
    expect(placeSegment({ ...full, index: 1 }, "f2", "1")).toEqual({ index: 2, path_segments: [...full.path_segments.slice(0, 2), { name: "f2", id: "1" }] });
  });
});
