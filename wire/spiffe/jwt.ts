// Compact JWS with ES256 (RFC 7515/7518), node:crypto only: what NSM's path tokens are, signed with
// the X.509-SVID's key (SPIRE issues EC P-256 keys by default). The signature is r||s (IEEE P1363,
// 64 bytes), base64url without padding, as JOSE wants, not the DER that crypto.sign gives by default.
import crypto, { X509Certificate, type KeyObject } from "node:crypto";

export interface JwtHeader {
  alg: string;
  typ?: string;
  [key: string]: unknown;
}

export interface JwtClaims {
  sub?: string;
  aud?: string | string[];
  /** Seconds since the epoch. */
  exp?: number;
  iat?: number;
  [key: string]: unknown;
}

export interface SignClaims {
  sub: string;
  aud: string | string[];
  /** Seconds since the epoch. */
  exp: number;
  /** Seconds since the epoch; left out when not given. */
  iat?: number;
}

export interface DecodedJwt {
  header: JwtHeader;
  claims: JwtClaims;
  /** `<header>.<claims>`, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const HEADER = { alg: "ES256", typ: "JWT" };
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const P256 = "prime256v1";

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** What `key` is, for an error: "rsa", "ec (secp384r1)", "ed25519", "secret". */
function keyKind(key: KeyObject): string {
  if (key.type === "secret") return "secret";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `${key.asymmetricKeyType ?? "unknown"}${curve ? ` (${curve})` : ""}`;
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === P256;
}

/** A compact ES256 JWS of `claims`; throws when the key is not a private EC P-256 key. */
export function signJwt(privateKey: KeyObject, claims: SignClaims): string {
  if (privateKey.type !== "private") throw new Error(`signJwt: ES256 needs a private key, got a ${privateKey.type} key`);
  if (!isP256(privateKey)) throw new Error(`signJwt: ES256 needs an EC P-256 key, got ${keyKind(privateKey)}`);
  const body: JwtClaims = { sub: claims.sub, aud: claims.aud, exp: claims.exp, ...(claims.iat === undefined ? {} : { iat: claims.iat }) };
  const signingInput = `${b64url(JSON.stringify(HEADER))}.${b64url(JSON.stringify(body))}`;
  const signature = crypto.sign("sha256", Buffer.from(signingInput), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${signingInput}.${b64url(signature)}`;
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  if (!BASE64URL.test(part)) throw new Error(`malformed JWT: the ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw new Error(`malformed JWT: the ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`malformed JWT: the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The header and claims of a compact JWS, unverified; throws naming what is malformed. */
export function decodeJwt(token: string): DecodedJwt {
  if (typeof token !== "string" || token === "") throw new Error("malformed JWT: empty");
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error(`malformed JWT: expected 3 dot-separated parts (header.claims.signature), got ${parts.length}`);
  const [h, c, s] = parts as [string, string, string];
  const header = jsonPart(h, "header");
  if (typeof header.alg !== "string") throw new Error("malformed JWT: the header has no alg");
  const claims = jsonPart(c, "claims");
  if (!BASE64URL.test(s)) throw new Error("malformed JWT: the signature is not base64url");
  return { header: header as JwtHeader, claims: claims as JwtClaims, signingInput: `${h}.${c}`, signature: Buffer.from(s, "base64url") };
}

/**
 * Whether `token` is an ES256 JWS signed by the key of `publicKey` (a key, or a certificate's).
 * Only the signature: expiry and audience are the caller's. Malformed tokens, another alg, a
 * key that is not EC P-256 and a bad signature are all false.
 */
export function verifyJwt(token: string, publicKey: KeyObject | X509Certificate): boolean {
  let decoded: DecodedJwt;
  try {
    decoded = decodeJwt(token);
  } catch {
    return false;
  }
  if (decoded.header.alg !== "ES256" || decoded.signature.length !== 64) return false;
  const key = publicKey instanceof X509Certificate ? publicKey.publicKey : publicKey;
  if (!isP256(key)) return false;
  try {
    return crypto.verify("sha256", Buffer.from(decoded.signingInput), { key, dsaEncoding: "ieee-p1363" }, decoded.signature);
  } catch {
    return false;
  }
}
