// A small JSON router over node:http shared by every lab API. It owns the things each API would
// otherwise get subtly different: body size limits, JSON parse errors, unknown routes, error rendering.
import http from "node:http";
import type { AddressInfo, Server } from "node:net";

/** An error a handler throws to answer with a given status. `render` picks the wire shape. */
export class ApiError extends Error {
  readonly status: number;
  readonly details: unknown;
  constructor(status: number, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.details = details;
  }
}

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when there was none. */
  body: unknown;
  rawBody: string;
}

export interface ApiResponse {
  status?: number;
  /** Serialized as JSON unless `text` is given. */
  body?: unknown;
  /** A plain-text body (TF's error style). */
  text?: string;
  headers?: Record<string, string>;
}

export type Handler = (req: ApiRequest) => ApiResponse | Promise<ApiResponse>;

export interface Route {
  method: string;
  /** "/virtual-network/:uuid"; a trailing "/*" captures the rest into params["*"]. */
  pattern: string;
  handler: Handler;
}

export interface JsonServerOptions {
  name: string;
  routes: Route[];
  maxBodyBytes?: number;
  /** Runs before the handler (e.g. auth); throw ApiError to refuse. */
  before?: (req: ApiRequest) => void | Promise<void>;
  /** How errors look on this API's wire. Default: {"error": message}. */
  renderError?: (err: ApiError, req: ApiRequest | undefined) => ApiResponse;
  /** Whether "/x" and "/x/" are the same route. Default true. */
  ignoreTrailingSlash?: boolean;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  keys: string[];
}

function compile(route: Route, ignoreTrailingSlash: boolean): CompiledRoute {
  const keys: string[] = [];
  let src = route.pattern
    .split("/")
    .map((seg) => {
      if (seg === "*") {
        keys.push("*");
        return "(.*)";
      }
      if (seg.startsWith(":")) {
        keys.push(seg.slice(1));
        return "([^/]+)";
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  if (ignoreTrailingSlash) src = src.replace(/\/$/, "") + "/?";
  return { ...route, regex: new RegExp(`^${src}$`), keys };
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** The host part of a Host header or URL authority ("127.0.0.1:8082" -> "127.0.0.1", "[::1]:80" -> "[::1]"). */
function hostnameOf(authority: string): string {
  const bracketed = /^\[[^\]]*\]/.exec(authority);
  if (bracketed) return bracketed[0].toLowerCase();
  return authority.replace(/:\d*$/, "").toLowerCase();
}

function isLocalName(hostname: string, localAddress: string | undefined): boolean {
  if (LOOPBACK_NAMES.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname)) return true;
  return localAddress !== undefined && (hostname === localAddress || hostname === `[${localAddress}]`);
}

/**
 * What a browser could otherwise make these APIs do (DNS rebinding, cross-site requests): a request
 * must be addressed to the address it arrived on (Host is loopback or the local address), carry no
 * foreign Origin, and send a body only as JSON (a form or text/plain post never reaches a handler).
 */
export function refuseForeign(req: http.IncomingMessage, hasBody: boolean): void {
  const local = req.socket.localAddress?.replace(/^::ffff:/, "");
  const host = req.headers.host;
  if (host !== undefined && !isLocalName(hostnameOf(host), local)) {
    throw new ApiError(403, `Host "${host}" is not this server: it answers only requests addressed to ${local ?? "its own address"} or localhost`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = origin === "null" ? "null" : new URL(origin).host;
    } catch {
      originHost = origin;
    }
    if (originHost === "null" || !isLocalName(hostnameOf(originHost), local) || (host !== undefined && originHost !== host)) {
      throw new ApiError(403, `cross-origin request from ${origin} refused`);
    }
  }
  if (hasBody) {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json" && !/^application\/[a-z0-9.+-]*\+json$/.test(type)) {
      throw new ApiError(415, `a request body must be JSON (Content-Type: application/json), got ${type ? `"${type}"` : "none"}`);
    }
  }
}

export const defaultRenderError = (err: ApiError): ApiResponse => ({ status: err.status, body: { error: err.message } });

export function createJsonServer(opts: JsonServerOptions): http.Server {
  return http.createServer(jsonRequestListener(opts));
}

/** The JSON router as a request listener, for a server made another way (HTTPS). */
export function jsonRequestListener(opts: JsonServerOptions): http.RequestListener {
  const ignoreSlash = opts.ignoreTrailingSlash ?? true;
  const routes = opts.routes.map((r) => compile(r, ignoreSlash));
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const render = opts.renderError ?? defaultRenderError;

  const send = (res: http.ServerResponse, out: ApiResponse) => {
    const status = out.status ?? 200;
    const headers: Record<string, string> = { ...out.headers };
    let payload = "";
    if (out.text !== undefined) {
      payload = out.text;
      headers["content-type"] ??= "text/plain; charset=utf-8";
    } else if (out.body !== undefined) {
      payload = JSON.stringify(out.body);
      headers["content-type"] ??= "application/json";
    }
    headers["content-length"] = String(Buffer.byteLength(payload));
    res.writeHead(status, headers);
    res.end(status === 204 || status === 304 ? undefined : payload);
  };

  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBody) tooBig = true;
      else chunks.push(c);
    });
    req.on("end", () => {
      void (async () => {
        let apiReq: ApiRequest | undefined;
        try {
          const url = new URL(req.url ?? "/", "http://lab.invalid");
          const method = (req.method ?? "GET").toUpperCase();
          if (tooBig) throw new ApiError(413, `request body larger than ${maxBody} bytes`);
          const rawBody = Buffer.concat(chunks).toString("utf8");
          refuseForeign(req, rawBody.trim() !== "");
          let body: unknown;
          if (rawBody.trim() !== "") {
            try {
              body = JSON.parse(rawBody);
            } catch (e) {
              throw new ApiError(400, `malformed JSON body: ${(e as Error).message}`);
            }
          }
          let path: string;
          try {
            path = decodeURIComponent(url.pathname);
          } catch {
            throw new ApiError(400, `malformed URL path: ${url.pathname}`);
          }
          apiReq = { method, path, params: {}, query: url.searchParams, headers: req.headers, body, rawBody };
          let pathMatched = false;
          for (const r of routes) {
            const m = r.regex.exec(path);
            if (!m) continue;
            pathMatched = true;
            if (r.method !== method && !(r.method === "GET" && method === "HEAD")) continue;
            r.keys.forEach((k, i) => (apiReq!.params[k] = m[i + 1] ?? ""));
            if (opts.before) await opts.before(apiReq);
            send(res, await r.handler(apiReq));
            return;
          }
          throw pathMatched ? new ApiError(405, `method ${method} not allowed on ${path}`) : new ApiError(404, `no such resource: ${path}`);
        } catch (err) {
          const apiErr =
            err instanceof ApiError ? err : new ApiError(500, `internal error in ${opts.name}: ${(err as Error)?.message ?? String(err)}`);
          if (!(err instanceof ApiError)) console.error(`[${opts.name}]`, err);
          try {
            send(res, render(apiErr, apiReq));
          } catch {
            res.destroy();
          }
        }
      })();
    });
    req.on("error", () => res.destroy());
  };
}

/** What listen and close take: an http.Server, or another server that can drop its connections as one does (an HTTP/2 server). */
export type ListeningServer = Server & { closeAllConnections?(): void };

/** Listens on host:port (port 0 picks a free one) and resolves with the bound port. */
export function listen(server: ListeningServer, port: number, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function close(server: ListeningServer): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Reads a required JSON object body or answers 400 naming what is missing. */
export function objectBody(req: ApiRequest, key?: string): Record<string, unknown> {
  const b = req.body;
  if (!b || typeof b !== "object" || Array.isArray(b)) throw new ApiError(400, "request body must be a JSON object");
  if (key === undefined) return b as Record<string, unknown>;
  const inner = (b as Record<string, unknown>)[key];
  if (!inner || typeof inner !== "object" || Array.isArray(inner)) throw new ApiError(400, `request body must be {"${key}": {...}}`);
  return inner as Record<string, unknown>;
}
