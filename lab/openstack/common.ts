// What the OpenStack services of the lab share: token checks (keystonemiddleware's 401), the
// error body shapes of each service, and small id helpers.
import { ApiError } from "../../lib/http/server.ts";
import type { ApiRequest, ApiResponse } from "../../lib/http/server.ts";
import type { TfObject } from "../tf/configStore.ts";

export type TokenValidator = (token: string | undefined) => boolean;

/** The request's X-Auth-Token header, if any. */
export function tokenOf(req: ApiRequest): string | undefined {
  const t = req.headers["x-auth-token"];
  return Array.isArray(t) ? t[0] : t;
}

/** keystonemiddleware's answer to a missing or bad token, which every service returns as-is. */
const unauthorizedBody = {
  error: { code: 401, title: "Unauthorized", message: "The request you have made requires authentication." },
};

export class Unauthorized extends ApiError {
  constructor() {
    super(401, "The request you have made requires authentication.");
  }
}

/** A `before` hook that requires a valid token except on the paths given (version discovery). */
export function requireToken(validate: TokenValidator | null, isPublic: (req: ApiRequest) => boolean) {
  return (req: ApiRequest) => {
    if (!validate || isPublic(req)) return;
    if (!validate(tokenOf(req))) throw new Unauthorized();
  };
}

/** Nova's fault keys by status. */
const NOVA_KEYS: Record<number, string> = {
  400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
  409: "conflictingRequest", 413: "overLimit", 415: "badMediaType", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable",
};

export function novaError(err: ApiError): ApiResponse {
  if (err.status === 401) return { status: 401, body: unauthorizedBody };
  const key = NOVA_KEYS[err.status] ?? "computeFault";
  return { status: err.status, body: { [key]: { code: err.status, message: err.message } } };
}

/** Neutron's error: {"NeutronError": {"type", "message", "detail"}}; the type travels in ApiError.details. */
export function neutronError(err: ApiError): ApiResponse {
  if (err.status === 401) return { status: 401, body: unauthorizedBody };
  const fallback: Record<number, string> = { 400: "BadRequest", 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed", 409: "Conflict", 413: "RequestEntityTooLarge", 500: "InternalServerError" };
  const type = typeof err.details === "string" ? err.details : (fallback[err.status] ?? "NeutronError");
  return { status: err.status, body: { NeutronError: { type, message: err.message, detail: "" } } };
}

/** Keystone's error body. */
export function keystoneError(err: ApiError): ApiResponse {
  const titles: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict" };
  return { status: err.status, body: { error: { code: err.status, title: titles[err.status] ?? "Internal Server Error", message: err.message } } };
}

/** Glance (like most WSGI services here) answers errors with a short JSON. */
export function glanceError(err: ApiError): ApiResponse {
  if (err.status === 401) return { status: 401, body: unauthorizedBody };
  return { status: err.status, body: { code: err.status, title: err.message, message: err.message } };
}

/** A Neutron error with its type name ("NetworkNotFound", ...). */
export function neutronFault(status: number, type: string, message: string): ApiError {
  return new ApiError(status, message, type);
}

/** The references of a TF object in one ref or back-ref field ("virtual_network_refs"). */
export const refsOf = (o: TfObject, field: string) => ((o[field] as Array<{ to: string[]; uuid: string; attr?: unknown }> | undefined) ?? []);

/** "http://host:port" of the request, for links. */
export const hostUrl = (req: ApiRequest) => `http://${req.headers.host ?? "127.0.0.1"}`;

/** Keystone/Neutron style ids: a uuid without dashes. */
export const hexId = (uuid: string) => uuid.replace(/-/g, "");

/** OpenStack timestamps: "2024-05-01T12:00:00Z". */
export const isoSeconds = (d: Date = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
