// SPIFFE IDs: the standard's rules, each refusal naming what is wrong; the one SPIFFE ID of a certificate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSpiffeId, parseSpiffeId, spiffeIdOf } from "../../wire/spiffe/id.ts";
import { certFactory, type TestCa } from "./fixtures/spiffeCerts.ts";

describe("parseSpiffeId", () => {
  it.each([
    ["spiffe://test.lab", { trustDomain: "test.lab", path: "" }],
    ["spiffe://test.lab/ns/default/pod/a", { trustDomain: "test.lab", path: "/ns/default/pod/a" }],
    ["spiffe://k8s.nsm/ns/Kube-System/sa/my_sa.v1", { trustDomain: "k8s.nsm", path: "/ns/Kube-System/sa/my_sa.v1" }],
    ["spiffe://a-b_c.9/x", { trustDomain: "a-b_c.9", path: "/x" }],
  ])("%s", (id, parsed) => {
    expect(parseSpiffeId(id)).toEqual(parsed);
    expect(checkSpiffeId(id)).toBeUndefined();
  });

  it.each([
    ["", /cannot be empty/],
    ["http://test.lab/a", /must start with "spiffe:\/\/"/],
    ["SPIFFE://test.lab/a", /scheme must be lowercase/],
    ["spiffe:test.lab/a", /must start with "spiffe:\/\/"/],
    ["spiffe:///a", /trust domain is missing/],
    ["spiffe://", /trust domain is missing/],
    ["spiffe://Test.lab/a", /trust domain must be lowercase/],
    ["spiffe://test.lab:8443/a", /no port/],
    ["spiffe://user@test.lab/a", /no userinfo/],
    ["spiffe://test.lab?x=1", /no query/],
    ["spiffe://test.lab/a?x=1", /no query/],
    ["spiffe://test.lab/a#frag", /no fragment/],
    ["spiffe://te$t.lab/a", /trust domain may hold only/],
    ["spiffe://test.lab/", /cannot end with "\/"/],
    ["spiffe://test.lab/a/", /cannot end with "\/"/],
    ["spiffe://test.lab//a", /empty segment/],
    ["spiffe://test.lab/a/./b", /"\." segment/],
    ["spiffe://test.lab/a/..", /"\.\." segment/],
    ["spiffe://test.lab/a%20b", /percent-encoding/],
    ["spiffe://test.lab/a b", /path segment may hold only/],
    [`spiffe://${"a".repeat(256)}/x`, /longer than 255/],
    [`spiffe://test.lab/${"a".repeat(2050)}`, /longer than 2048/],
  ])("refuses %s", (id, reason) => {
    expect(checkSpiffeId(id)).toMatch(reason);
    expect(() => parseSpiffeId(id)).toThrow(reason);
  });

  it("refuses a non-string", () => {
    expect(checkSpiffeId(42)).toMatch(/must be a string, got 42/);
  });
});

describe("spiffeIdOf", () => {
  const certs = certFactory();
  let ca: TestCa;
  beforeAll(async () => {
    ca = await certs.ca("id test CA");
  });
  afterAll(() => certs.remove());

  it("is the one spiffe URI SAN", async () => {
    const { cert } = await certs.issue(ca, "a", { uris: ["spiffe://test.lab/ns/default/pod/a"] });
    expect(spiffeIdOf(cert)).toBe("spiffe://test.lab/ns/default/pod/a");
  });

  it("ignores other URI SANs", async () => {
    const { cert } = await certs.issue(ca, "b", { uris: ["https://example.org/x", "spiffe://test.lab/b"] });
    expect(spiffeIdOf(cert)).toBe("spiffe://test.lab/b");
  });

  it("refuses a certificate without one, naming it and its URIs", async () => {
    const { cert } = await certs.issue(ca, "plain", { uris: ["https://example.org/x"] });
    expect(() => spiffeIdOf(cert)).toThrow(/CN=plain has no SPIFFE ID: no spiffe:\/\/ URI SAN \(its URI SANs: https:\/\/example.org\/x\)/);
    const { cert: bare } = await certs.issue(ca, "bare");
    expect(() => spiffeIdOf(bare)).toThrow(/CN=bare has no SPIFFE ID/);
  });

  it("refuses several", async () => {
    const { cert } = await certs.issue(ca, "two", { uris: ["spiffe://test.lab/a", "spiffe://test.lab/b"] });
    expect(() => spiffeIdOf(cert)).toThrow(/several SPIFFE IDs \(spiffe:\/\/test.lab\/a, spiffe:\/\/test.lab\/b\)/);
  });

  it("refuses an invalid one with the reason", async () => {
    const { cert } = await certs.issue(ca, "bad", { uris: ["spiffe://test.lab/a/"] });
    expect(() => spiffeIdOf(cert)).toThrow(/CN=bad: SPIFFE ID "spiffe:\/\/test.lab\/a\/": the path cannot end with "\/"/);
  });
});
