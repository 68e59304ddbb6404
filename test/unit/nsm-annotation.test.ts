import { describe, expect, it } from "vitest";
import { annotationConnectionId, checkNsmAnnotation, formatNsmAnnotation, parseNsmAnnotation } from "../../wire/nsm/annotation.ts";

describe("NSM annotation grammar", () => {
  it("reads service, interface name and labels of each comma-separated URL", () => {
    expect(parseNsmAnnotation("kernel://red/nsm-1, kernel://blue?app=web&tier=a%20b")).toEqual([
      { mechanism: "kernel", service: "red", interfaceName: "nsm-1", labels: {} },
      { mechanism: "kernel", service: "blue", labels: { app: "web", tier: "a b" } },
    ]);
  });

  it("round-trips what it formats", () => {
    const urls = [{ service: "red", interfaceName: "r0", labels: { "app.kubernetes.io/name": "x" } }, { service: "blue" }];
    const value = formatNsmAnnotation(urls);
    expect(parseNsmAnnotation(value)).toEqual([
      { mechanism: "kernel", service: "red", interfaceName: "r0", labels: { "app.kubernetes.io/name": "x" } },
      { mechanism: "kernel", service: "blue", labels: {} },
    ]);
  });

  it.each([
    ["kernel://red,", /entry 2 \(""\): is empty/],
    ["red/nsm-1", /entry 1 .*is not a URL/],
    ["memif://red", /entry 1 .*mechanism "memif" is not supported; use kernel:\/\//],
    ["kernel://Red", /entry 1 .*network service: name "Red" is not a DNS-1123 label/],
    ["kernel://red/much-too-long-name", /at most 15/],
    ["kernel://red/a/b", /may not contain "\/"/],
    ["kernel://red/eth0", /is the pod's own/],
    ["kernel://red:80/x", /port/],
    ["kernel://red/nsm-1,kernel://blue/nsm-1", /entry 2 .*interface name "nsm-1" is also entry 1's/],
    ["kernel://red?a=1&a=2", /label "a" is given twice/],
  ])("refuses %s, naming the entry", (value, message) => {
    expect(checkNsmAnnotation(value)).toMatch(message);
  });

  it("gives each entry of a pod a fixed connection id", () => {
    expect(annotationConnectionId("3f1c2d7e-0000-4000-8000-000000000001", 0)).toBe("nsc-3f1c2d7e-0000-4000-8000-000000000001-1");
    expect(annotationConnectionId("u", 1)).not.toBe(annotationConnectionId("u", 0));
  });
});
