// Nova microversions: which one a request asks for, refusing what the lab does not serve, and the
// headers that echo it.
import { ApiError } from "../../lib/http/server.ts";
import type { ApiRequest } from "../../lib/http/server.ts";

export const MIN_VERSION = "2.1";
export const MAX_VERSION = "2.79";

export interface Microversion {
  major: number;
  minor: number;
}

const parse = (v: string): Microversion | undefined => {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
};
const MIN = parse(MIN_VERSION)!;
const MAX = parse(MAX_VERSION)!;
const cmp = (a: Microversion, b: Microversion) => a.major - b.major || a.minor - b.minor;

export const atLeast = (v: Microversion, minor: number) => cmp(v, { major: 2, minor }) >= 0;
const formatVersion = (v: Microversion) => `${v.major}.${v.minor}`;

function header(req: ApiRequest, name: string): string | undefined {
  const h = req.headers[name];
  return Array.isArray(h) ? h.join(",") : h;
}

/** The requested microversion (default 2.1); 400 when malformed, 406 outside [MIN, MAX]. */
export function requestedVersion(req: ApiRequest): Microversion {
  let raw: string | undefined;
  const generic = header(req, "openstack-api-version");
  if (generic) {
    for (const part of generic.split(",")) {
      const [service, value] = part.trim().split(/\s+/, 2);
      if (service?.toLowerCase() === "compute" && value) raw = value;
    }
  }
  raw ??= header(req, "x-openstack-nova-api-version");
  if (!raw) return MIN;
  if (raw.trim().toLowerCase() === "latest") return MAX;
  const v = parse(raw);
  if (!v) throw new ApiError(400, `API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
  if (cmp(v, MIN) < 0 || cmp(v, MAX) > 0) {
    throw new ApiError(406, `Version ${raw} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
  return v;
}

export function versionHeaders(v: Microversion): Record<string, string> {
  const s = formatVersion(v);
  return { "openstack-api-version": `compute ${s}`, "x-openstack-nova-api-version": s, vary: "OpenStack-API-Version, X-OpenStack-Nova-API-Version" };
}
