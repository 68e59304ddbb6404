// ES256 compact JWS with node:crypto: round trip, tampering, the wrong key, another alg, malformed tokens.
import crypto, { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, signJwt, verifyJwt } from "../../wire/spiffe/jwt.ts";
import { certFactory, type TestCa } from "./fixtures/spiffeCerts.ts";

const p256 = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const claims = { sub: "spiffe://test.lab/a", aud: ["spiffe://test.lab/b"], exp: 2_000_000_000 };

describe("signJwt / verifyJwt", () => {
  const { privateKey, publicKey } = p256();

  it("round-trips: header, claims, a 64-byte r||s signature", () => {
    const token = signJwt(privateKey, { ...claims, iat: 1_900_000_000 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const decoded = decodeJwt(token);
    expect(decoded.header).toEqual({ alg: "ES256", typ: "JWT" });
    expect(decoded.claims).toEqual({ ...claims, iat: 1_900_000_000 });
    expect(decoded.signature).toHaveLength(64);
    expect(verifyJwt(token, publicKey)).toBe(true);
    // A JOSE library would read it the same: the P1363 signature verifies as ieee-p1363 over the signing input.
    expect(crypto.verify("sha256", Buffer.from(decoded.signingInput), { key: publicKey, dsaEncoding: "ieee-p1363" }, decoded.signature)).toBe(true);
  });

  it("leaves iat out when not given, and takes a single aud", () => {
    const token = signJwt(privateKey, { sub: "spiffe://test.lab/a", aud: "spiffe://test.lab/b", exp: 5 });
    expect(decodeJwt(token).claims).toEqual({ sub: "spiffe://test.lab/a", aud: "spiffe://test.lab/b", exp: 5 });
  });

  it("verifies against a certificate's key", async () => {
    const certs = certFactory();
    try {
      const ca = await certs.ca("jwt CA");
      const svid = await certs.svid(ca, "spiffe://test.lab/signer");
      const token = signJwt(svid.privateKey, claims);
      expect(verifyJwt(token, svid.leaf)).toBe(true);
      expect(verifyJwt(token, (await certs.svid(ca, "spiffe://test.lab/other")).leaf)).toBe(false);
    } finally {
      certs.remove();
    }
  });

  it("a tampered token is false", () => {
    const token = signJwt(privateKey, claims);
    const [h, , s] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "spiffe://test.lab/evil" })).toString("base64url");
    expect(verifyJwt(`${h}.${forged}.${s}`, publicKey)).toBe(false);
    const sig = Buffer.from(s!, "base64url");
    sig.writeUInt8(sig.readUInt8(10) ^ 1, 10);
    expect(verifyJwt(`${h}.${token.split(".")[1]}.${sig.toString("base64url")}`, publicKey)).toBe(false);
    expect(verifyJwt(`${token.split(".").slice(0, 2).join(".")}.`, publicKey)).toBe(false);
  });

  it("the wrong key is false", () => {
    expect(verifyJwt(signJwt(privateKey, claims), p256().publicKey)).toBe(false);
    expect(verifyJwt(signJwt(privateKey, claims), generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey)).toBe(false);
    expect(verifyJwt(signJwt(privateKey, claims), generateKeyPairSync("ed25519").publicKey)).toBe(false);
  });

  it("another alg is false, even with a valid signature over it", () => {
    const token = signJwt(privateKey, claims);
    const [, c] = token.split(".");
    for (const alg of ["none", "HS256", "ES384", "RS256"]) {
      const h = Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url");
      const sig = crypto.sign("sha256", Buffer.from(`${h}.${c}`), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
      expect(verifyJwt(`${h}.${c}.${sig}`, publicKey)).toBe(false);
    }
    expect(verifyJwt(`${Buffer.from('{"alg":"none"}').toString("base64url")}.${c}.`, publicKey)).toBe(false);
  });

  it("a key that is not EC P-256 cannot sign, and the error names its type", () => {
    expect(() => signJwt(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, claims)).toThrow(/ES256 needs an EC P-256 key, got rsa/);
    expect(() => signJwt(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, claims)).toThrow(/got ec \(secp384r1\)/);
    expect(() => signJwt(generateKeyPairSync("ed25519").privateKey, claims)).toThrow(/got ed25519/);
    expect(() => signJwt(publicKey, claims)).toThrow(/needs a private key, got a public key/);
  });
});

describe("decodeJwt", () => {
  const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
  it.each([
    ["", /empty/],
    ["a.b", /expected 3 dot-separated parts .* got 2/],
    ["a.b.c.d", /got 4/],
    [`${b64("{nope")}.${b64({})}.`, /header is not JSON/],
    [`${b64([1])}.${b64({})}.`, /header is not a JSON object/],
    [`${b64({ typ: "JWT" })}.${b64({})}.`, /header has no alg/],
    [`a+b.${b64({})}.`, /header is not base64url/],
    [`${b64({ alg: "ES256" })}.${b64("null")}.`, /claims is not a JSON object/],
    [`${b64({ alg: "ES256" })}.${b64({})}.a/b`, /signature is not base64url/],
  ])("refuses %j", (token, reason) => {
    expect(() => decodeJwt(token)).toThrow(reason);
    expect(verifyJwt(token, p256().publicKey)).toBe(false);
  });
});

describe("with openssl-made keys", () => {
  const certs = certFactory();
  let ca: TestCa;
  beforeAll(async () => {
    ca = await certs.ca("jwt CA 2");
  });
  afterAll(() => certs.remove());

  it("an RSA SVID key cannot sign", async () => {
    const svid = await certs.svid(ca, "spiffe://test.lab/rsa", { key: "rsa" });
    expect(() => signJwt(svid.privateKey, claims)).toThrow(/got rsa/);
  });
});
