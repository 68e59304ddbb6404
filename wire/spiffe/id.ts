// SPIFFE IDs (the SPIFFE ID standard, as go-spiffe's spiffeid package enforces it):
// spiffe://<trust domain><path>, the trust domain lowercase [a-z0-9._-], the path empty or
// "/"-separated segments of [A-Za-z0-9._-], none empty, "." or "..", no trailing slash; no port,
// userinfo, query or fragment. And the one SPIFFE ID of an X.509-SVID: its single spiffe URI SAN.
import type { X509Certificate } from "node:crypto";

export interface SpiffeId {
  /** "example.org" */
  trustDomain: string;
  /** "" or "/ns/default/pod/a" */
  path: string;
}

const SCHEME = "spiffe://";
const TRUST_DOMAIN_CHAR = /^[a-z0-9._-]$/;
const PATH_CHAR = /^[A-Za-z0-9._-]$/;
/** The standard's limits: a trust domain of at most 255 bytes, a whole ID of at most 2048. */
const MAX_TRUST_DOMAIN = 255;
const MAX_ID = 2048;

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** Why `value` is not a SPIFFE ID, or undefined when it is one. */
export function checkSpiffeId(value: unknown): string | undefined {
  if (typeof value !== "string") return `a SPIFFE ID must be a string, got ${quote(value)}`;
  const id = quote(value);
  if (value === "") return "a SPIFFE ID cannot be empty";
  if (!value.startsWith(SCHEME)) {
    return value.toLowerCase().startsWith(SCHEME) ? `SPIFFE ID ${id}: the scheme must be lowercase "spiffe://"` : `SPIFFE ID ${id}: must start with "spiffe://"`;
  }
  if (Buffer.byteLength(value) > MAX_ID) return `SPIFFE ID ${id.slice(0, 60)}...: longer than ${MAX_ID} bytes`;
  const rest = value.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  if (trustDomain === "") return `SPIFFE ID ${id}: the trust domain is missing`;
  if (Buffer.byteLength(trustDomain) > MAX_TRUST_DOMAIN) return `SPIFFE ID ${id}: the trust domain is longer than ${MAX_TRUST_DOMAIN} bytes`;
  for (const c of trustDomain) {
    if (TRUST_DOMAIN_CHAR.test(c)) continue;
    if (c === "@") return `SPIFFE ID ${id}: no userinfo allowed (the "@" in the trust domain)`;
    if (c === ":") return `SPIFFE ID ${id}: no port allowed (the ":" in the trust domain)`;
    if (c === "?") return `SPIFFE ID ${id}: no query allowed`;
    if (c === "#") return `SPIFFE ID ${id}: no fragment allowed`;
    if (c >= "A" && c <= "Z") return `SPIFFE ID ${id}: the trust domain must be lowercase (found ${quote(c)})`;
    return `SPIFFE ID ${id}: the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (found ${quote(c)})`;
  }
  return checkPath(id, path);
}

function checkPath(id: string, path: string): string | undefined {
  if (path === "") return undefined;
  if (path.endsWith("/")) return `SPIFFE ID ${id}: the path cannot end with "/"`;
  for (const segment of path.slice(1).split("/")) {
    if (segment === "") return `SPIFFE ID ${id}: the path cannot hold an empty segment ("//")`;
    if (segment === "." || segment === "..") return `SPIFFE ID ${id}: the path cannot hold a "${segment}" segment`;
    for (const c of segment) {
      if (PATH_CHAR.test(c)) continue;
      if (c === "?") return `SPIFFE ID ${id}: no query allowed`;
      if (c === "#") return `SPIFFE ID ${id}: no fragment allowed`;
      if (c === "%") return `SPIFFE ID ${id}: no percent-encoding allowed in the path`;
      return `SPIFFE ID ${id}: a path segment may hold only letters, digits, ".", "-" and "_" (found ${quote(c)})`;
    }
  }
  return undefined;
}

/** The trust domain and path of a SPIFFE ID; throws naming what is wrong. */
export function parseSpiffeId(value: string): SpiffeId {
  const reason = checkSpiffeId(value);
  if (reason) throw new Error(reason);
  const rest = value.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? { trustDomain: rest, path: "" } : { trustDomain: rest.slice(0, slash), path: rest.slice(slash) };
}

/** The trust domain of a SPIFFE ID; throws as parseSpiffeId. */
export function trustDomainOf(value: string): string {
  return parseSpiffeId(value).trustDomain;
}

/**
 * The entries of Node's `subjectAltName` string ("DNS:a, URI:spiffe://x/y"), where a value with
 * a special character is a JSON string ("URI:\"a,b\"").
 */
export function subjectAltNames(cert: X509Certificate): { type: string; value: string }[] {
  const text = cert.subjectAltName ?? "";
  const entries: { type: string; value: string }[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      // A JSON string: find its closing quote, skipping escapes.
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      end = j + 1;
    } else {
      const comma = text.indexOf(", ", colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    entries.push({ type, value });
    i = text.startsWith(", ", end) ? end + 2 : end + 1;
  }
  return entries;
}

function subjectOf(cert: X509Certificate): string {
  return cert.subject.replaceAll("\n", ", ") || `serial ${cert.serialNumber}`;
}

/**
 * The SPIFFE ID of an X.509-SVID: its one URI SAN with the spiffe scheme. Throws naming the
 * certificate when it has none, several, or one that is no valid SPIFFE ID.
 */
export function spiffeIdOf(cert: X509Certificate): string {
  const uris = subjectAltNames(cert)
    .filter((e) => e.type === "URI")
    .map((e) => e.value);
  const spiffe = uris.filter((u) => u.toLowerCase().startsWith("spiffe:"));
  const who = `the certificate ${subjectOf(cert)}`;
  if (spiffe.length === 0) {
    throw new Error(`${who} has no SPIFFE ID: no spiffe:// URI SAN${uris.length ? ` (its URI SANs: ${uris.join(", ")})` : ""}`);
  }
  if (spiffe.length > 1) throw new Error(`${who} has several SPIFFE IDs (${spiffe.join(", ")}); an X.509-SVID has exactly one`);
  const id = spiffe[0]!;
  const reason = checkSpiffeId(id);
  if (reason) throw new Error(`${who}: ${reason}`);
  return id;
}
