// The one HTTP client every wire API client builds on: timeouts, retries with backoff on
// 5xx and connection errors, and errors that say which request failed and what the server said.
import { Agent, request as undiciRequest } from "undici";

/** The server answered with a status the caller did not expect. */
export class HttpError extends Error {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly serverMessage: string;
  readonly body: unknown;
  constructor(method: string, url: string, status: number, serverMessage: string, body: unknown) {
    super(`${method} ${url} failed with ${status}: ${serverMessage}`);
    this.name = "HttpError";
    this.method = method;
    this.url = url;
    this.status = status;
    this.serverMessage = serverMessage;
    this.body = body;
  }
}

/** The server could not be reached at all (refused, reset, timed out). */
export class ConnectionError extends Error {
  readonly method: string;
  readonly url: string;
  readonly code: string;
  constructor(method: string, url: string, code: string, hint: string | undefined) {
    super(`${method} ${url}: cannot reach the server (${code})${hint ? `. ${hint}` : ""}`);
    this.name = "ConnectionError";
    this.method = method;
    this.url = url;
    this.code = code;
  }
}

export type HeaderSource = () => Record<string, string> | Promise<Record<string, string>>;

export interface HttpClientOptions {
  /**
   * Base URL, e.g. "http://127.0.0.1:8082". Paths given to request() are appended. A base URL
   * "unix:///path/to.sock" means HTTP over that unix socket: the whole rest is the socket's path
   * and request paths are the HTTP paths (Host: localhost).
   */
  baseUrl: string;
  /** Extra headers per request (e.g. an auth token that may need fetching first). */
  headers?: HeaderSource;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Attempts after the first for 5xx answers and connection errors. */
  retries?: number;
  /** First backoff delay; doubles per attempt. */
  backoffMs?: number;
  /** Appended to connection errors, e.g. how to start the lab. */
  unreachableHint?: string;
  /** PEM certificates to trust for https (e.g. a lab API server's own CA) instead of the system's. */
  ca?: string;
  /** https: a client certificate and key (PEM) to present, as a kubeconfig's client-certificate user. */
  clientCert?: { cert: string; key: string };
  /** https: accept any server certificate (a kubeconfig's insecure-skip-tls-verify). */
  insecureSkipTlsVerify?: boolean;
}

/** The TLS settings of one client that need an agent of their own. */
type TlsOptions = Pick<HttpClientOptions, "ca" | "clientCert" | "insecureSkipTlsVerify">;

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** Statuses that count as success; default any 2xx. */
  expect?: number[];
  /** Retry even non-idempotent methods (POST) on connection errors. Default false. */
  retryPost?: boolean;
}

export interface StreamOptions extends Omit<RequestOptions, "body" | "retryPost"> {
  /** Ends the stream (the body iteration then ends with an AbortError). */
  signal?: AbortSignal;
}

export interface HttpStream {
  status: number;
  headers: Record<string, string>;
  /** The body as it arrives. */
  body: AsyncIterable<Buffer>;
}

export interface HttpResponse<T> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

const sharedAgent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
// One pool per socket, shared by every client of it, as sharedAgent is for TCP.
const socketAgents = new Map<string, Agent>();

/** The socket path of a "unix:///path/to.sock" base URL; undefined for any other URL. */
export function unixSocketOf(baseUrl: string): string | undefined {
  if (!baseUrl.startsWith("unix://")) return undefined;
  const socketPath = baseUrl.slice("unix://".length).replace(/\/+$/, "");
  if (!socketPath.startsWith("/")) throw new Error(`baseUrl "${baseUrl}" must be unix://<absolute socket path>, e.g. unix:///run/agent.sock`);
  return socketPath;
}

function agentFor(tls: TlsOptions, socketPath: string | undefined): Agent {
  const { ca, clientCert, insecureSkipTlsVerify } = tls;
  const custom = ca !== undefined || clientCert !== undefined || insecureSkipTlsVerify === true;
  if (socketPath !== undefined && custom) throw new Error("an HttpClient over a unix socket takes no TLS options (ca, clientCert, insecureSkipTlsVerify): it speaks plain HTTP");
  if (custom) {
    const connect = {
      ...(ca !== undefined ? { ca } : {}),
      ...(clientCert ? { cert: clientCert.cert, key: clientCert.key } : {}),
      ...(insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
    };
    return new Agent({ keepAliveTimeout: 10_000, connections: 64, connect });
  }
  if (socketPath === undefined) return sharedAgent;
  let agent = socketAgents.get(socketPath);
  if (!agent) socketAgents.set(socketPath, (agent = new Agent({ keepAliveTimeout: 10_000, connections: 64, connect: { socketPath } })));
  return agent;
}
// ENOENT: a unix socket that is not there (yet), as ECONNREFUSED is a port nobody listens on.
const RETRYABLE_CODES = new Set(["ECONNREFUSED", "ENOENT", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code ?? (err instanceof Error ? err.name : "unknown");
}

/** Pulls the human message out of the error shapes the wire APIs use. */
export function serverMessageOf(body: unknown): string {
  if (typeof body === "string") return body.trim().slice(0, 2000);
  if (body && typeof body === "object") {
    const o = body as Record<string, unknown>;
    if (typeof o.error === "string") return o.error;
    if (o.error && typeof o.error === "object" && typeof (o.error as { message?: unknown }).message === "string") {
      return (o.error as { message: string }).message;
    }
    if (typeof o.message === "string") return o.message;
    // OpenStack: {"itemNotFound": {"message": ...}} / {"NeutronError": {"message": ...}}
    for (const v of Object.values(o)) {
      if (v && typeof v === "object" && typeof (v as { message?: unknown }).message === "string") {
        return (v as { message: string }).message;
      }
    }
    return JSON.stringify(body).slice(0, 2000);
  }
  return "";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HttpClient {
  readonly baseUrl: string;
  private readonly opts: Required<Omit<HttpClientOptions, "headers" | "unreachableHint" | keyof TlsOptions>> & Pick<HttpClientOptions, "headers" | "unreachableHint">;
  private readonly agent: Agent;
  /** What requests go to: baseUrl, or http://localhost when the connection is a unix socket. */
  private readonly target: string;

  constructor(opts: HttpClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    const { ca, clientCert, insecureSkipTlsVerify, ...rest } = opts;
    this.opts = { timeoutMs: 30_000, retries: 3, backoffMs: 100, ...rest };
    const socketPath = unixSocketOf(this.baseUrl);
    this.target = socketPath === undefined ? this.baseUrl : "http://localhost";
    this.agent = agentFor({ ca, clientCert, insecureSkipTlsVerify }, socketPath);
  }

  /** The URL a request for path is sent to (over a unix socket: http://localhost/<path>). */
  url(path: string, query?: RequestOptions["query"]): string {
    const u = new URL(this.target + (path.startsWith("/") ? path : `/${path}`));
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** How errors name a request: over a unix socket, the socket's URL with the path after it. */
  private shown(url: string): string {
    return this.target === this.baseUrl ? url : this.baseUrl + url.slice(this.target.length);
  }

  async request<T = unknown>(method: string, path: string, ro: RequestOptions = {}): Promise<HttpResponse<T>> {
    const url = this.url(path, ro.query);
    const idempotent = method !== "POST" || ro.retryPost === true;
    let attempt = 0;
    for (;;) {
      const extra = this.opts.headers ? await this.opts.headers() : {};
      const headers: Record<string, string> = { accept: "application/json", ...extra, ...ro.headers };
      let payload: string | undefined;
      if (ro.body !== undefined) {
        payload = typeof ro.body === "string" ? ro.body : JSON.stringify(ro.body);
        headers["content-type"] ??= "application/json";
      }
      let status: number;
      let resHeaders: Record<string, string>;
      let text: string;
      try {
        const res = await undiciRequest(url, {
          method: method as "GET",
          headers,
          body: payload,
          dispatcher: this.agent,
          headersTimeout: this.opts.timeoutMs,
          bodyTimeout: this.opts.timeoutMs,
        });
        status = res.statusCode;
        resHeaders = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
        text = await res.body.text();
      } catch (err) {
        const code = errorCode(err);
        if (attempt < this.opts.retries && (idempotent || code === "ECONNREFUSED" || code === "ENOENT") && RETRYABLE_CODES.has(code)) {
          await sleep(this.opts.backoffMs * 2 ** attempt++);
          continue;
        }
        throw new ConnectionError(method, this.shown(url), code, this.opts.unreachableHint);
      }
      let body: unknown = text;
      if (text && (resHeaders["content-type"] ?? "").includes("json")) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      } else if (!text) {
        body = undefined;
      }
      const ok = ro.expect ? ro.expect.includes(status) : status >= 200 && status < 300;
      if (ok) return { status, headers: resHeaders, body: body as T };
      if (status >= 500 && attempt < this.opts.retries && idempotent) {
        await sleep(this.opts.backoffMs * 2 ** attempt++);
        continue;
      }
      throw new HttpError(method, this.shown(url), status, serverMessageOf(body), body);
    }
  }

  /**
   * A long-lived GET whose body is read as it arrives (e.g. a watch), without a body timeout and
   * without retries; a status the caller did not expect is an HttpError, as for request().
   */
  async stream(path: string, so: StreamOptions = {}): Promise<HttpStream> {
    const url = this.url(path, so.query);
    const extra = this.opts.headers ? await this.opts.headers() : {};
    let res: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      res = await undiciRequest(url, {
        method: "GET",
        headers: { accept: "application/json", ...extra, ...so.headers },
        dispatcher: this.agent,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: 0,
        signal: so.signal,
      });
    } catch (err) {
      throw new ConnectionError("GET", this.shown(url), errorCode(err), this.opts.unreachableHint);
    }
    const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
    const ok = so.expect ? so.expect.includes(res.statusCode) : res.statusCode >= 200 && res.statusCode < 300;
    if (!ok) {
      const text = await res.body.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      throw new HttpError("GET", this.shown(url), res.statusCode, serverMessageOf(body), body);
    }
    return { status: res.statusCode, headers, body: res.body };
  }

  get<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>("GET", path, ro);
  }
  post<T = unknown>(path: string, body?: unknown, ro?: RequestOptions) {
    return this.request<T>("POST", path, { ...ro, body });
  }
  put<T = unknown>(path: string, body?: unknown, ro?: RequestOptions) {
    return this.request<T>("PUT", path, { ...ro, body });
  }
  delete<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>("DELETE", path, ro);
  }
  patch<T = unknown>(path: string, body?: unknown, ro?: RequestOptions) {
    return this.request<T>("PATCH", path, { ...ro, body });
  }
}

/** True when err is an HttpError with one of the given statuses (e.g. 404 on delete). */
export function isStatus(err: unknown, ...statuses: number[]): err is HttpError {
  return err instanceof HttpError && statuses.includes(err.status);
}

/** Returns undefined instead of throwing when the server answers 404. */
export async function orUndefinedOn404<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}
