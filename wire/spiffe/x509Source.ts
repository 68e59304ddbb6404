// The X.509-SVID of this process from a SPIFFE Workload API (a SPIRE agent's unix socket):
// FetchX509SVID is a stream that stays open, and each message replaces the SVID (rotation). A
// broken stream is opened again with back-off (100 ms doubling to 5 s), the last SVID served
// meanwhile. Every call carries `workload.spiffe.io: true`, without which an agent refuses it.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { SpiffeWorkloadAPI, type X509SVIDResponse } from "./gen/workload_pb.ts";
import { checkSpiffeId, spiffeIdOf } from "./id.ts";

export interface X509Svid {
  spiffeId: string;
  /** The certificate chain, leaf first, PEM. */
  certChainPem: string;
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
  /** The trust domain's CA certificates, PEM. */
  bundlePem: string;
  leaf: X509Certificate;
  privateKey: KeyObject;
  notAfter: Date;
}

/** The metadata every Workload API call must carry. */
export const WORKLOAD_API_HEADER = "workload.spiffe.io";
export const ENDPOINT_ENV = "SPIFFE_ENDPOINT_SOCKET";
const DEFAULT_TIMEOUT_MS = 5_000;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;

export type WorkloadApiProblem = "unreachable" | "no-identity" | "bad-response" | "failed" | "timeout";

/** A Workload API failure, with what to do about it. */
export class WorkloadApiError extends Error {
  readonly problem: WorkloadApiProblem;
  readonly socketPath: string;
  constructor(problem: WorkloadApiProblem, socketPath: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WorkloadApiError";
    this.problem = problem;
    this.socketPath = socketPath;
  }
}

/** SPIFFE_ENDPOINT_SOCKET, when set. */
export function endpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[ENDPOINT_ENV]?.trim();
  return value ? value : undefined;
}

/** The socket path of a Workload API endpoint: unix:///path, unix:/path or a bare absolute path. */
export function endpointSocketPath(endpoint: string): string {
  if (endpoint.startsWith("/")) return endpoint;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`SPIFFE Workload API endpoint ${JSON.stringify(endpoint)}: expected unix:///path/to/agent.sock or an absolute path`);
  }
  if (url.protocol !== "unix:") {
    throw new Error(`SPIFFE Workload API endpoint ${endpoint}: only unix sockets are supported (unix:///path/to/agent.sock), not ${url.protocol}`);
  }
  if (url.host) throw new Error(`SPIFFE Workload API endpoint ${endpoint}: a unix endpoint names no host (unix:///path, three slashes)`);
  if (!url.pathname || url.pathname === "/") throw new Error(`SPIFFE Workload API endpoint ${endpoint}: no socket path`);
  if (url.search || url.hash) throw new Error(`SPIFFE Workload API endpoint ${endpoint}: no query or fragment allowed`);
  return decodeURIComponent(url.pathname);
}

/** The DER objects of a concatenation of DER SEQUENCEs (a chain, a bundle). */
export function splitDer(der: Uint8Array, what: string): Buffer[] {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    if (buf[i] !== 0x30 || i + 2 > buf.length) throw new Error(`${what}: not DER certificates (byte ${i})`);
    const first = buf[i + 1]!;
    let len: number;
    let head: number;
    if (first < 0x80) {
      len = first;
      head = 2;
    } else {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || i + 2 + n > buf.length) throw new Error(`${what}: not DER certificates (byte ${i})`);
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i + 2 + k]!;
      head = 2 + n;
    }
    if (i + head + len > buf.length) throw new Error(`${what}: truncated DER at byte ${i}`);
    out.push(buf.subarray(i, i + head + len));
    i += head + len;
  }
  return out;
}

function certificates(der: Uint8Array, what: string): X509Certificate[] {
  const parts = splitDer(der, what);
  if (parts.length === 0) throw new Error(`${what}: empty`);
  return parts.map((p, n) => {
    try {
      return new X509Certificate(p);
    } catch (e) {
      throw new Error(`${what}: certificate ${n + 1} does not parse (${(e as Error).message})`);
    }
  });
}

/** An X509Svid from the Workload API's message fields; throws naming what is unusable. */
export function x509SvidFrom(msg: { spiffeId: string; x509Svid: Uint8Array; x509SvidKey: Uint8Array; bundle: Uint8Array }): X509Svid {
  const reason = checkSpiffeId(msg.spiffeId);
  if (reason) throw new Error(reason);
  const chain = certificates(msg.x509Svid, `the X.509-SVID of ${msg.spiffeId}`);
  const bundle = certificates(msg.bundle, `the bundle of ${msg.spiffeId}`);
  const leaf = chain[0]!;
  const leafId = spiffeIdOf(leaf);
  if (leafId !== msg.spiffeId) throw new Error(`the X.509-SVID for ${msg.spiffeId} names ${leafId} in its certificate`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(msg.x509SvidKey), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new Error(`the private key of ${msg.spiffeId} is no unencrypted PKCS#8 DER key (${(e as Error).message})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new Error(`the private key of ${msg.spiffeId} does not match its certificate`);
  return {
    spiffeId: msg.spiffeId,
    certChainPem: chain.map((c) => c.toString()).join(""),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    bundlePem: bundle.map((c) => c.toString()).join(""),
    leaf,
    privateKey,
    notAfter: new Date(leaf.validTo),
  };
}

function unreachable(socketPath: string, cause?: unknown): WorkloadApiError {
  return new WorkloadApiError(
    "unreachable",
    socketPath,
    `no SPIFFE Workload API at ${socketPath}: is the lab up (npx tfmesh lab up) or the SPIRE agent running? Set ${ENDPOINT_ENV}`,
    { cause },
  );
}

function causeCode(e: unknown): string | undefined {
  for (let c: unknown = e, n = 0; c && n < 5; c = (c as { cause?: unknown }).cause, n++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** What a failed stream means, in words that say what to do. */
function explain(socketPath: string, e: unknown): WorkloadApiError {
  if (e instanceof WorkloadApiError) return e;
  const code = causeCode(e);
  if (code === "ENOENT" || code === "ECONNREFUSED" || code === "ENOTSOCK" || !fs.existsSync(socketPath)) return unreachable(socketPath, e);
  if (code === "EACCES") {
    return new WorkloadApiError("unreachable", socketPath, `the SPIFFE Workload API socket ${socketPath} is not accessible to this process (uid ${process.getuid?.()}): check its permissions`, { cause: e });
  }
  const err = ConnectError.from(e);
  if (err.code === Code.PermissionDenied) {
    return new WorkloadApiError(
      "no-identity",
      socketPath,
      `the SPIRE agent at ${socketPath} has no identity for this process (uid ${process.getuid?.()}, gid ${process.getgid?.()}): no registration entry matches it`,
      { cause: e },
    );
  }
  if (err.code === Code.Unavailable && /ECONN|EPIPE|socket|closed/i.test(err.rawMessage)) return unreachable(socketPath, e);
  return new WorkloadApiError("failed", socketPath, `the SPIFFE Workload API at ${socketPath} failed: ${err.rawMessage} (${Code[err.code]})`, { cause: e });
}

/**
 * A connection that never keeps the process alive: the SVID stream and its retries run in the
 * background of a process that is otherwise done (a Pulumi program whose lookups made an NSM client,
 * a CLI command). The HTTP/2 session refs its socket while a stream is open, and this stream is
 * always open, so ref() is made a no-op on this socket.
 */
function backgroundSocket(socketPath: string): net.Socket {
  const socket = net.connect(socketPath).unref();
  socket.ref = () => socket;
  return socket;
}

/**
 * This process's X.509-SVID, kept current from the Workload API. `connect` resolves with the
 * first SVID; after that, rotations replace it and `onUpdate` hears of them.
 */
export class X509Source {
  readonly socketPath: string;
  #current: X509Svid | undefined;
  #listeners = new Set<(svid: X509Svid) => void>();
  #closed = new AbortController();
  #session: Http2SessionManager | undefined;
  #retry: NodeJS.Timeout | undefined;
  #backoffMs = BACKOFF_FIRST_MS;
  #lastError: WorkloadApiError | undefined;
  #first: { resolve: () => void; reject: (e: Error) => void } | undefined;

  private constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  /**
   * Connects to the Workload API at `endpoint` (unix:///path as SPIFFE_ENDPOINT_SOCKET is
   * written, or an absolute path) and waits for the first SVID, retrying with back-off until
   * `timeoutMs` (5 s by default); then rejects with a WorkloadApiError that says what to do.
   */
  static async connect(endpoint: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<X509Source> {
    const source = new X509Source(endpointSocketPath(endpoint));
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signal = opts.signal;
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      source.#first?.reject(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
    };
    try {
      await new Promise<void>((resolve, reject) => {
        source.#first = { resolve, reject };
        timer = setTimeout(() => {
          reject(
            source.#lastError ??
              new WorkloadApiError("timeout", source.socketPath, `the SPIFFE Workload API at ${source.socketPath} sent no X.509-SVID within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        signal?.addEventListener("abort", onAbort, { once: true });
        source.#run();
      });
    } catch (e) {
      source.close();
      throw e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      source.#first = undefined;
    }
    return source;
  }

  /** The current SVID: the first (default) one of the latest response. */
  current(): X509Svid {
    if (!this.#current) throw new Error(`no X.509-SVID from ${this.socketPath} yet`);
    return this.#current;
  }

  /** Called with each new SVID (rotation); returns the function that stops it. */
  onUpdate(fn: (svid: X509Svid) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Ends the stream and any retry; current() keeps the last SVID. */
  close(): void {
    this.#closed.abort();
    clearTimeout(this.#retry);
    this.#session?.abort();
    this.#session = undefined;
    this.#listeners.clear();
  }

  #run(): void {
    if (this.#closed.signal.aborted) return;
    const socketPath = this.socketPath;
    const baseUrl = "http://localhost";
    const session = new Http2SessionManager(baseUrl, {}, { createConnection: () => backgroundSocket(socketPath) });
    this.#session = session;
    const client = createClient(SpiffeWorkloadAPI, createGrpcTransport({ baseUrl, sessionManager: session }));
    const attempt = async () => {
      const stream = client.fetchX509SVID({}, { headers: { [WORKLOAD_API_HEADER]: "true" }, signal: this.#closed.signal });
      for await (const response of stream) this.#accept(response);
      // The agent ended the stream: open it again.
      throw new WorkloadApiError("failed", socketPath, `the SPIFFE Workload API at ${socketPath} ended the X.509-SVID stream`);
    };
    attempt().catch((e: unknown) => {
      session.abort();
      if (this.#closed.signal.aborted) return;
      this.#lastError = explain(socketPath, e);
      const delay = this.#backoffMs;
      this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
      this.#retry = setTimeout(() => this.#run(), delay).unref();
    });
  }

  #accept(response: X509SVIDResponse): void {
    const first = response.svids[0];
    if (!first) throw new WorkloadApiError("bad-response", this.socketPath, `the SPIFFE Workload API at ${this.socketPath} sent a response without an X.509-SVID`);
    let svid: X509Svid;
    try {
      svid = x509SvidFrom(first);
    } catch (e) {
      throw new WorkloadApiError("bad-response", this.socketPath, `the SPIFFE Workload API at ${this.socketPath} sent an unusable X.509-SVID: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.#current = svid;
    this.#backoffMs = BACKOFF_FIRST_MS;
    this.#lastError = undefined;
    this.#first?.resolve();
    for (const fn of this.#listeners) {
      try {
        fn(svid);
      } catch {
        // A listener's failure is its own; the others still hear of the rotation.
      }
    }
  }
}
