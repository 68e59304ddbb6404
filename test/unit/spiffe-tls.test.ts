// mTLS with X.509-SVIDs over HTTP/2: both sides see the other's SPIFFE ID; a client with a
// certificate from another CA, with none, or without a SPIFFE ID in our trust domain is refused by
// the server; a server in another trust domain is refused by the client.
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizeClient, clientTlsOptions, peerCertificate, peerSpiffeId, serverTlsOptions } from "../../wire/spiffe/tls.ts";
import type { X509Svid } from "../../wire/spiffe/x509Source.ts";
import { x509SvidFrom } from "../../wire/spiffe/x509Source.ts";
import { certFactory, type TestCa } from "./fixtures/spiffeCerts.ts";

const SERVER_ID = "spiffe://test.lab/ns/nsm/sa/nsmgr";
const CLIENT_ID = "spiffe://test.lab/ns/default/pod/nsc";

interface TestServer {
  port: number;
  refused: string[];
  /** The handshakes the server refused (tlsClientError). */
  tlsErrors: string[];
  close(): Promise<void>;
}

async function startServer(svid: X509Svid): Promise<TestServer> {
  const refused: string[] = [];
  const tlsErrors: string[] = [];
  const server = http2.createSecureServer({ ...serverTlsOptions(svid), allowHTTP1: false }, (req, res) => {
    res.end(JSON.stringify({ client: peerSpiffeId(req.socket as tls.TLSSocket) ?? null }));
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => authorizeClient(socket, (reason) => refused.push(reason)));
  server.on("tlsClientError", (e: Error) => tlsErrors.push(e.message));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    refused,
    tlsErrors,
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One GET over a TLS socket made with `options`: the body and the server's SPIFFE ID as the client saw it. */
async function call(port: number, options: tls.ConnectionOptions): Promise<{ client: string | null; server: string | undefined }> {
  const socket = tls.connect({ ...options, host: "127.0.0.1", port });
  const session = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => socket });
  let socketError: string | undefined;
  try {
    return await new Promise((resolve, reject) => {
      const fail = (e: unknown) => reject(e instanceof Error ? e : new Error(String(e)));
      socket.once("error", (e: Error) => {
        socketError = e.message;
        fail(e);
      });
      session.once("error", fail);
      session.once("close", () => fail(new Error("the session closed before an answer")));
      const timer = setTimeout(() => fail(new Error("no answer in 5 s")), 5_000);
      socket.once("secureConnect", () => {
        const server = peerSpiffeId(socket);
        const req = session.request({ ":path": "/" });
        let body = "";
        let status: number | undefined;
        req.once("response", (headers) => (status = Number(headers[":status"])));
        req.setEncoding("utf8");
        req.on("data", (d: string) => (body += d));
        req.once("error", fail);
        req.once("close", () => fail(new Error(`the stream closed (${req.rstCode})`)));
        req.once("end", () => {
          clearTimeout(timer);
          if (status !== 200) return fail(new Error(`the stream ended without an answer (status ${status}, socket error: ${socketError ?? "none"})`));
          try {
            resolve({ ...(JSON.parse(body) as { client: string | null }), server });
          } catch (e) {
            fail(e);
          }
        });
      });
    });
  } finally {
    session.destroy();
    socket.destroy();
  }
}

const certs = certFactory();
let ca: TestCa;
let otherCa: TestCa;
let serverSvid: X509Svid;
let clientSvid: X509Svid;
let server: TestServer;

beforeAll(async () => {
  ca = await certs.ca("test.lab CA");
  otherCa = await certs.ca("another CA");
  serverSvid = await certs.svid(ca, SERVER_ID);
  clientSvid = await certs.svid(ca, CLIENT_ID);
  server = await startServer(serverSvid);
});

afterAll(async () => {
  await server?.close();
  certs.remove();
});

describe("SPIFFE mTLS", () => {
  it("the options are NSM's: TLS >= 1.2, h2, the bundle as CA, client certificates required", () => {
    expect(serverTlsOptions(serverSvid)).toMatchObject({
      key: serverSvid.keyPem,
      cert: serverSvid.certChainPem,
      ca: serverSvid.bundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["h2"],
    });
    const client = clientTlsOptions(clientSvid);
    expect(client).toMatchObject({ ca: clientSvid.bundlePem, rejectUnauthorized: true, minVersion: "TLSv1.2", ALPNProtocols: ["h2"] });
    expect(client.servername).toBeUndefined();
  });

  it("connects, and each side sees the other's SPIFFE ID", async () => {
    expect(await call(server.port, clientTlsOptions(clientSvid))).toEqual({ client: CLIENT_ID, server: SERVER_ID });
  });

  it("works over TLS 1.2 too", async () => {
    expect(await call(server.port, { ...clientTlsOptions(clientSvid), maxVersion: "TLSv1.2" })).toEqual({ client: CLIENT_ID, server: SERVER_ID });
  });

  it("peerCertificate is the peer's leaf", async () => {
    const socket = tls.connect({ ...clientTlsOptions(clientSvid), host: "127.0.0.1", port: server.port });
    try {
      await once(socket, "secureConnect");
      expect(peerCertificate(socket)?.fingerprint256).toBe(serverSvid.leaf.fingerprint256);
    } finally {
      socket.destroy();
    }
  });

  it("peerCertificate still knows the server once a TLS 1.3 session ticket came (Node then forgets it)", async () => {
    const echo = tls.createServer(serverTlsOptions(serverSvid), (s) => s.on("data", (d) => s.write(d)));
    echo.listen(0, "127.0.0.1");
    await once(echo, "listening");
    const socket = tls.connect({ ...clientTlsOptions(clientSvid), ALPNProtocols: [], host: "127.0.0.1", port: (echo.address() as AddressInfo).port });
    const ticket = once(socket, "session");
    try {
      await once(socket, "secureConnect");
      expect(socket.getProtocol()).toBe("TLSv1.3");
      expect(peerCertificate(socket)?.fingerprint256).toBe(serverSvid.leaf.fingerprint256);
      socket.write("ping");
      await once(socket, "data");
      await ticket;
      expect(peerCertificate(socket)?.fingerprint256).toBe(serverSvid.leaf.fingerprint256);
    } finally {
      socket.destroy();
      echo.close();
    }
  });

  it("the server refuses a client certificate from another CA", async () => {
    const foreign = await certs.svid(otherCa, "spiffe://test.lab/ns/default/pod/intruder");
    // The intruder trusts our server (our bundle), so the refusal is the server's: Node's TLS
    // server (rejectUnauthorized) drops the socket before secureConnection, authorizeClient never runs.
    const before = { tls: server.tlsErrors.length, refused: server.refused.length };
    await expect(call(server.port, { ...clientTlsOptions(foreign), ca: ca.certPem })).rejects.toThrow(/without an answer|hang up|ECONNRESET|alert/);
    expect(server.tlsErrors.length).toBeGreaterThan(before.tls);
    expect(server.refused.length).toBe(before.refused);
  });

  it("the server refuses a client with no certificate", async () => {
    const { key: _k, cert: _c, ...noCert } = clientTlsOptions(clientSvid);
    const before = server.tlsErrors.length;
    await expect(call(server.port, noCert)).rejects.toThrow(/alert certificate required|alert handshake failure/);
    expect(server.tlsErrors.slice(before).join()).toMatch(/peer did not return a certificate/i);
  });

  it("the server refuses a client certificate without a SPIFFE ID, saying so", async () => {
    const plain = await certs.issue(ca, "no-spiffe", { uris: ["https://example.org/x"] });
    const before = server.refused.length;
    await expect(call(server.port, { ...clientTlsOptions(clientSvid), key: plain.keyPem, cert: plain.certPem })).rejects.toThrow();
    expect(server.refused.slice(before)).toEqual([expect.stringMatching(/^the client is no SPIFFE workload: .*CN=no-spiffe has no SPIFFE ID/)]);
  });

  it("the server refuses a client of another trust domain, even from our CA", async () => {
    const other = await certs.issue(ca, "other-td", { uris: ["spiffe://other.lab/ns/default/pod/x"] });
    const before = server.refused.length;
    await expect(call(server.port, { ...clientTlsOptions(clientSvid), key: other.keyPem, cert: other.certPem })).rejects.toThrow();
    expect(server.refused.slice(before)).toEqual(["the client spiffe://other.lab/ns/default/pod/x is in trust domain other.lab, not ours (test.lab)"]);
  });

  it("the client refuses a server in another trust domain, naming its ID", async () => {
    const otherServer = await startServer(await certs.svid(ca, "spiffe://other.lab/ns/nsm/sa/nsmgr"));
    try {
      await expect(call(otherServer.port, clientTlsOptions(clientSvid))).rejects.toThrow(
        "refused the server: the peer spiffe://other.lab/ns/nsm/sa/nsmgr is in trust domain other.lab, not ours (test.lab)",
      );
    } finally {
      await otherServer.close();
    }
  });

  it("the client refuses a server certificate without a SPIFFE ID", async () => {
    const plain = await certs.issue(ca, "plain-server");
    const svid: X509Svid = { ...serverSvid, keyPem: plain.keyPem, certChainPem: plain.certPem };
    const plainServer = await startServer(svid);
    try {
      await expect(call(plainServer.port, clientTlsOptions(clientSvid))).rejects.toThrow(/refused the server: the peer is no SPIFFE workload: .*CN=plain-server has no SPIFFE ID/);
    } finally {
      await plainServer.close();
    }
  });

  it("the client refuses a server from another CA", async () => {
    const foreignServer = await startServer(await certs.svid(otherCa, SERVER_ID));
    try {
      await expect(call(foreignServer.port, clientTlsOptions(clientSvid))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      await foreignServer.close();
    }
  });

  it("authorize narrows the accepted IDs of our trust domain", async () => {
    const onlyForwarders = (id: string) => (id.includes("/sa/forwarder") ? undefined : "only forwarders");
    await expect(call(server.port, clientTlsOptions(clientSvid, { authorize: onlyForwarders }))).rejects.toThrow(
      `refused the server: the peer ${SERVER_ID} is not authorized: only forwarders`,
    );
    expect(await call(server.port, clientTlsOptions(clientSvid, { authorize: () => undefined }))).toEqual({ client: CLIENT_ID, server: SERVER_ID });
  });

  it("a rotated SVID is served after setSecureContext", async () => {
    const rotated = await certs.svid(ca, SERVER_ID);
    const refused: string[] = [];
    const s = http2.createSecureServer({ ...serverTlsOptions(serverSvid), allowHTTP1: false }, (_req, res) => res.end('{"client":null}'));
    s.on("secureConnection", (socket: tls.TLSSocket) => authorizeClient(socket, (r) => refused.push(r)));
    s.listen(0, "127.0.0.1");
    await once(s, "listening");
    try {
      s.setSecureContext(serverTlsOptions(rotated));
      const socket = tls.connect({ ...clientTlsOptions(clientSvid), host: "127.0.0.1", port: (s.address() as AddressInfo).port });
      await once(socket, "secureConnect");
      expect(peerCertificate(socket)?.fingerprint256).toBe(rotated.leaf.fingerprint256);
      socket.destroy();
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    expect(refused).toEqual([]);
  });
});

it("x509SvidFrom refuses a key that does not match the certificate", async () => {
  const a = await certs.issue(ca, "a", { uris: ["spiffe://test.lab/a"] });
  const b = await certs.issue(ca, "b", { uris: ["spiffe://test.lab/a"] });
  expect(() => x509SvidFrom({ spiffeId: "spiffe://test.lab/a", x509Svid: a.certDer, x509SvidKey: b.keyDer, bundle: ca.certDer })).toThrow(
    "the private key of spiffe://test.lab/a does not match its certificate",
  );
  expect(() => x509SvidFrom({ spiffeId: "spiffe://test.lab/a", x509Svid: Buffer.from([1, 2, 3]), x509SvidKey: a.keyDer, bundle: ca.certDer })).toThrow(
    /the X.509-SVID of spiffe:\/\/test.lab\/a: not DER certificates/,
  );
});
