import { describe, expect, it } from "vitest";
import { broadcastOf, contains, formatIpv4, isIpv4, net, networkOf, nthAddress, overlaps, parseIpv4, prefixToNetmask } from "../../lib/ipv4.ts";

describe("ipv4", () => {
  it("round-trips dotted quads", () => {
    expect(parseIpv4("10.1.1.3")).toBe(0x0a010103);
    expect(formatIpv4(0x0a010103)).toBe("10.1.1.3");
    expect(formatIpv4(parseIpv4("255.255.255.255"))).toBe("255.255.255.255");
  });

  it("refuses malformed addresses", () => {
    for (const bad of ["10.1.1", "10.1.1.256", "010.1.1.1", "a.b.c.d", "10.1.1.1 ", ""]) expect(isIpv4(bad)).toBe(false);
    expect(() => parseIpv4("10.1.1")).toThrow(/not an IPv4 address/);
  });

  it("computes network, broadcast and masks", () => {
    const a = parseIpv4("10.1.1.77");
    expect(formatIpv4(networkOf(a, 24))).toBe("10.1.1.0");
    expect(formatIpv4(broadcastOf(a, 24))).toBe("10.1.1.255");
    expect(formatIpv4(networkOf(a, 0))).toBe("0.0.0.0");
    expect(prefixToNetmask(20)).toBe("255.255.240.0");
  });

  it("indexes addresses from both ends", () => {
    const n = net(parseIpv4("10.1.1.0"), 24);
    expect(formatIpv4(nthAddress(n, 1))).toBe("10.1.1.1");
    expect(formatIpv4(nthAddress(n, -2))).toBe("10.1.1.254");
    expect(() => nthAddress(n, 256)).toThrow(/outside 10.1.1.0\/24/);
  });

  it("tests containment and overlap", () => {
    const a = net(parseIpv4("10.1.0.0"), 16);
    const b = net(parseIpv4("10.1.5.0"), 24);
    const c = net(parseIpv4("10.2.0.0"), 24);
    expect(contains(a, parseIpv4("10.1.200.3"))).toBe(true);
    expect(contains(b, parseIpv4("10.1.6.1"))).toBe(false);
    expect(overlaps(a, b)).toBe(true);
    expect(overlaps(b, a)).toBe(true);
    expect(overlaps(a, c)).toBe(false);
  });
});
