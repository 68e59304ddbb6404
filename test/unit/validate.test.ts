import { describe, expect, it } from "vitest";
import {
  ValidationError, assertIfName, checkCidr, checkFqName, checkIfName, checkK8sName, checkMac, checkNetnsName, checkOverlap,
  checkResourceName, checkSubnet, checkUuid, formatFqName, parseCidr, parseFqName, validateSubnet,
} from "../../lib/validate/index.ts";

describe("cidr", () => {
  it("parses and normalizes", () => {
    const c = parseCidr("10.1.1.0/24");
    expect(c.prefix).toBe("10.1.1.0");
    expect(c.prefixLen).toBe(24);
    expect(parseCidr("10.1.1.9/24", "cidr", { strict: false }).cidr).toBe("10.1.1.0/24");
  });

  it("explains what is wrong", () => {
    expect(checkCidr("10.1.1.0")).toMatch(/not in CIDR form/);
    expect(checkCidr("10.1.1.0/33")).toMatch(/larger than 32/);
    expect(checkCidr("10.1.300.0/24")).toMatch(/not an IPv4 address/);
    expect(checkCidr("10.1.1.9/24")).toMatch(/host bits set; the network is 10.1.1.0\/24/);
    expect(checkCidr(42)).toMatch(/expected a CIDR string/);
    expect(() => parseCidr("x", "subnets[0].cidr")).toThrow(ValidationError);
    try {
      parseCidr("x", "subnets[0].cidr");
    } catch (e) {
      expect((e as ValidationError).field).toBe("subnets[0].cidr");
      expect((e as Error).message).toMatch(/^subnets\[0\].cidr: /);
    }
  });

  it("keeps gateway, DNS and pools inside the subnet", () => {
    expect(checkSubnet({ cidr: "10.1.1.0/24", gateway: "10.1.1.1", allocationPools: [{ start: "10.1.1.10", end: "10.1.1.20" }] })).toBeUndefined();
    expect(checkSubnet({ cidr: "10.1.1.0/24", gateway: "0.0.0.0" })).toBeUndefined();
    expect(checkSubnet({ cidr: "10.1.1.0/24", gateway: "10.1.2.1" })).toMatch(/gateway: 10.1.2.1 is not a host address of 10.1.1.0\/24/);
    expect(checkSubnet({ cidr: "10.1.1.0/24", gateway: "10.1.1.255" })).toMatch(/gateway/);
    expect(checkSubnet({ cidr: "10.1.1.0/24", dnsServer: "8.8.8.8" })).toMatch(/dns server: 8.8.8.8 is outside/);
    expect(checkSubnet({ cidr: "10.1.1.0/24", allocationPools: [{ start: "10.1.1.10", end: "10.1.2.5" }] })).toMatch(/allocation pool 1: .* is outside/);
    expect(checkSubnet({ cidr: "10.1.1.0/24", allocationPools: [{ start: "10.1.1.20", end: "10.1.1.10" }] })).toMatch(/start 10.1.1.20 is after end/);
    expect(
      checkSubnet({ cidr: "10.1.1.0/24", allocationPools: [{ start: "10.1.1.10", end: "10.1.1.20" }, { start: "10.1.1.15", end: "10.1.1.30" }] }),
    ).toMatch(/allocation pool 2: .* overlaps allocation pool 1/);
    expect(() => validateSubnet({ cidr: "10.1.1.0/24", gateway: "x" }, "red")).toThrow(/^red: gateway: "x" is not an IPv4 address/);
  });

  it("detects overlapping subnets", () => {
    expect(checkOverlap(["10.1.1.0/24", "10.2.2.0/24"])).toBeUndefined();
    expect(checkOverlap(["10.1.1.0/24", "10.2.2.0/24", "10.1.0.0/16"])).toBe("10.1.1.0/24 overlaps 10.1.0.0/16");
  });
});

describe("names", () => {
  it("limits interface names to what Linux accepts", () => {
    expect(checkIfName("tap1234567890a")).toBeUndefined();
    expect(checkIfName("nsm-1")).toBeUndefined();
    expect(checkIfName("a-very-long-name16")).toMatch(/at most 15/);
    expect(checkIfName("eth 0")).toMatch(/may only contain/);
    expect(checkIfName("eth/0")).toMatch(/may only contain/);
    expect(checkIfName("")).toMatch(/non-empty/);
    expect(() => assertIfName("x;rm -rf", "interface")).toThrow(/^interface: /);
  });

  it("checks netns, k8s and resource names", () => {
    expect(checkNetnsName("tfm-vm-1a2b3c4d")).toBeUndefined();
    expect(checkNetnsName("../etc")).toMatch(/may only contain/);
    expect(checkK8sName("red-pod")).toBeUndefined();
    expect(checkK8sName("Red_Pod")).toMatch(/DNS-1123/);
    expect(checkK8sName("-pod")).toMatch(/DNS-1123/);
    expect(checkK8sName("a".repeat(64))).toMatch(/at most 63/);
    expect(checkResourceName("red")).toBeUndefined();
    expect(checkResourceName("a:b")).toMatch(/contains ":"/);
    expect(checkResourceName("a\u0001")).toMatch(/control characters/);
  });
});

describe("fq_name", () => {
  it("parses strings and arrays", () => {
    expect(parseFqName("default-domain:admin:red")).toEqual(["default-domain", "admin", "red"]);
    expect(parseFqName(["default-domain", "admin", "red"], { length: 3 })).toEqual(["default-domain", "admin", "red"]);
    expect(formatFqName(["a", "b"])).toBe("a:b");
  });

  it("names the problem", () => {
    expect(checkFqName("default-domain::red")).toMatch(/empty element at position 2/);
    expect(checkFqName("admin:red", { length: 3 })).toMatch(/has 2 element\(s\); expected 3/);
    expect(checkFqName(["a", 3])).toMatch(/element 2 is not a string/);
    expect(checkFqName(["a", "b:c"])).toMatch(/contains ":"/);
    expect(checkFqName("")).toMatch(/empty/);
    expect(() => parseFqName("x", { length: 3 }, "network")).toThrow(/^network: /);
  });
});

describe("mac and uuid", () => {
  it("accepts unicast colon MACs only", () => {
    expect(checkMac("02:aa:bb:cc:dd:ee")).toBeUndefined();
    expect(checkMac("02-aa-bb-cc-dd-ee")).toMatch(/must look like/);
    expect(checkMac("01:00:5e:00:00:01")).toMatch(/multicast/);
  });
  it("accepts canonical uuids", () => {
    expect(checkUuid("3f0c2a1e-1111-4222-8333-444455556666")).toBeUndefined();
    expect(checkUuid("3F0C2A1E-1111-4222-8333-444455556666")).toMatch(/lower-case UUID/);
  });
});
