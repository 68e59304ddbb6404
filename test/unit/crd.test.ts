// NSM's CRDs and the record <-> CR mapping (wire/nsm/crd.ts): the CRD manifests are NSM's
// (deployments-k8s apps/registry-k8s), a spec is NSM's registry message as Go's encoding/json
// writes it (snake_case, empty fields left out, Timestamp as {seconds, nanos}), and a CR in that
// format reads back as the record the registry validates, with errors naming the field.
import { describe, expect, it } from "vitest";
import { parseNetworkService, parseNetworkServiceEndpoint } from "../../nsm/registry.ts";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import type { NetworkService } from "../../wire/nsm/api.ts";
import {
  crName,
  endpointOfCr,
  endpointSpec,
  EXPIRATION_ANNOTATION,
  networkServiceCr,
  networkServiceCrd,
  networkServiceEndpointCr,
  networkServiceEndpointCrd,
  NSM_CRDS,
  serviceOfCr,
  serviceSpec,
} from "../../wire/nsm/crd.ts";
import type { NsmCr } from "../../wire/nsm/crd.ts";

const RED: NetworkService = { name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };
const cr = (kind: string, spec: unknown, name = "x", namespace = "default"): NsmCr => ({ apiVersion: "networkservicemesh.io/v1", kind, metadata: { name, namespace }, spec });

describe("NSM's CRDs", () => {
  it("are NSM's networkservices and networkserviceendpoints of networkservicemesh.io/v1", () => {
    const ns = networkServiceCrd();
    expect(ns.apiVersion).toBe("apiextensions.k8s.io/v1");
    expect(ns.metadata.name).toBe("networkservices.networkservicemesh.io");
    expect(ns.spec).toMatchObject({
      group: "networkservicemesh.io",
      scope: "Namespaced",
      conversion: { strategy: "None" },
      names: { kind: "NetworkService", listKind: "NetworkServiceList", plural: "networkservices", singular: "networkservice", shortNames: ["netsvc", "netsvcs"] },
    });
    const nse = networkServiceEndpointCrd();
    expect(nse.metadata.name).toBe("networkserviceendpoints.networkservicemesh.io");
    expect(nse.spec.names).toEqual({
      kind: "NetworkServiceEndpoint",
      listKind: "NetworkServiceEndpointList",
      plural: "networkserviceendpoints",
      singular: "networkserviceendpoint",
      shortNames: ["nse", "nses"],
    });
    for (const crd of NSM_CRDS) {
      expect(crd.spec.versions).toHaveLength(1);
      const [v] = crd.spec.versions;
      expect(v).toMatchObject({ name: "v1", served: true, storage: true });
      expect(v!.schema).toEqual({ openAPIV3Schema: { type: "object", properties: { spec: { "x-kubernetes-preserve-unknown-fields": true } } } });
    }
  });

  it("show the endpoints' expiration and the services' payload as printer columns", () => {
    const columns = networkServiceEndpointCrd().spec.versions[0]!.additionalPrinterColumns!;
    expect(columns).toContainEqual(expect.objectContaining({ name: "Expires", jsonPath: ".metadata.annotations.tfmesh\\.io/expiration-time" }));
    expect(columns).toContainEqual(expect.objectContaining({ name: "Expiration", type: "integer", jsonPath: ".spec.expiration_time.seconds" }));
    expect(networkServiceCrd().spec.versions[0]!.additionalPrinterColumns).toContainEqual(expect.objectContaining({ name: "Payload", jsonPath: ".spec.payload" }));
  });
});

describe("a CR's metadata.name", () => {
  it("is the record's name when Kubernetes takes it", () => {
    expect(crName("red")).toBe("red");
    expect(crName("tungsten.k8s-1")).toBe("tungsten.k8s-1");
  });
  it("is a DNS-1123 subdomain made of the name, with a hash, otherwise", () => {
    const name = crName("tungsten@k8s-1");
    expect(name).toMatch(/^tungsten-k8s-1-[0-9a-f]{8}$/);
    expect(crName("Tungsten@K8s-1")).not.toBe(name);
    expect(crName("_x_")).toMatch(/^x-[0-9a-f]{8}$/);
    const long = crName(`${"a".repeat(252)}@b`);
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});

describe("records as NSM's specs", () => {
  it("a service is registry.NetworkService with the binding in its first match", () => {
    expect(serviceSpec(RED)).toEqual({
      name: "red",
      payload: "ETHERNET",
      matches: [{ metadata: { labels: { type: "tungsten" } }, routes: [{ destination_selector: { "tungsten.virtual_network": "default-domain:admin:red" } }] }],
    });
    const withMatch = { ...RED, matches: [{ source_selector: { app: "web" }, routes: [{ destination_selector: { zone: "a" }, weight: 2 }], fallthrough: true }] };
    expect(serviceSpec(withMatch).matches).toEqual([
      { metadata: { labels: { type: "tungsten" } }, routes: [{ destination_selector: { "tungsten.virtual_network": "default-domain:admin:red" } }] },
      { source_selector: { app: "web" }, routes: [{ destination_selector: { zone: "a" }, weight: 2 }], fallthrough: true },
    ]);
  });

  it("an endpoint is registry.NetworkServiceEndpoint with Go's {seconds, nanos}", () => {
    const e = { ...forwarderEndpoint("tungsten", "k8s-1", "unix:///s/tungsten@k8s-1.sock"), expiration_time: "2024-05-01T12:00:01.250Z" };
    expect(endpointSpec(e)).toEqual({
      name: "tungsten@k8s-1",
      network_service_names: ["forwarder"],
      network_service_labels: { forwarder: { labels: { type: "tungsten", node: "k8s-1" } } },
      url: "unix:///s/tungsten@k8s-1.sock",
      expiration_time: { seconds: 1714564801, nanos: 250_000_000 },
    });
    // omitempty: a whole second has no nanos.
    expect(endpointSpec({ ...e, expiration_time: "2024-05-01T12:00:01Z" }).expiration_time).toEqual({ seconds: 1714564801 });
  });

  it("the CRs carry the spec in the given namespace, and tfmesh's informative annotations", () => {
    const s = networkServiceCr(RED, "nsm-system");
    expect(s).toMatchObject({ apiVersion: "networkservicemesh.io/v1", kind: "NetworkService", metadata: { name: "red", namespace: "nsm-system" } });
    expect(s.metadata.annotations).toEqual({ "tfmesh.io/forwarder": "tungsten", "tfmesh.io/virtual-network": "default-domain:admin:red" });
    expect(networkServiceCr({ name: "k", payload: "IP", forwarder: "kernel", kernel: { cidr: "10.1.0.0/24" } }, "n").metadata.annotations).toEqual({
      "tfmesh.io/forwarder": "kernel",
      "tfmesh.io/cidr": "10.1.0.0/24",
    });
    const e = networkServiceEndpointCr({ ...forwarderEndpoint("kernel", "k8s-2"), expiration_time: "2024-05-01T12:00:00.000Z" }, "nsm-system");
    expect(e.kind).toBe("NetworkServiceEndpoint");
    expect(e.metadata.name).toBe(crName("kernel@k8s-2"));
    expect(e.spec.name).toBe("kernel@k8s-2");
    expect(e.metadata.annotations).toEqual({ [EXPIRATION_ANNOTATION]: "2024-05-01T12:00:00.000Z" });
  });
});

describe("CRs as records", () => {
  it("reads back what it writes", () => {
    expect(parseNetworkService(serviceOfCr(networkServiceCr(RED, "nsm-system")))).toEqual(RED);
    const e = { ...forwarderEndpoint("tungsten", "k8s-1", "unix:///x.sock"), expiration_time: "2024-05-01T12:00:01.250Z" };
    expect(parseNetworkServiceEndpoint(endpointOfCr(networkServiceEndpointCr(e, "nsm-system")))).toEqual(e);
  });

  it("reads a CR as NSM's registry-k8s writes it: name from metadata when the spec has none, RFC 3339 too", () => {
    const spec = {
      payload: "ETHERNET",
      matches: [{ metadata: { labels: { type: "kernel" } }, routes: [{ destination_selector: { "kernel.cidr": "10.9.0.0/24" } }] }],
    };
    expect(parseNetworkService(serviceOfCr(cr("NetworkService", spec, "blue")))).toEqual({ name: "blue", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.9.0.0/24" } });
    const nse = { network_service_names: ["forwarder"], url: "tcp://1.2.3.4:5", expiration_time: { seconds: 1714564800 }, initial_registration_time: { seconds: 1714564700, nanos: 5 } };
    expect(endpointOfCr(cr("NetworkServiceEndpoint", nse, "fwd-a"))).toEqual({
      name: "fwd-a",
      network_service_names: ["forwarder"],
      url: "tcp://1.2.3.4:5",
      expiration_time: "2024-05-01T12:00:00.000Z",
    });
    expect(endpointOfCr(cr("NetworkServiceEndpoint", { ...nse, expiration_time: "2024-05-01T12:00:00Z" })).expiration_time).toBe("2024-05-01T12:00:00.000Z");
  });

  it("a service without a binding match reads with no forwarder, which the registry refuses", () => {
    const record = serviceOfCr(cr("NetworkService", { name: "plain", payload: "IP" }));
    expect(record.forwarder).toBe("");
    expect(() => parseNetworkService(record)).toThrow(/network service "plain": forwarder must name/);
  });

  it("names the field a CR gets wrong", () => {
    expect(() => serviceOfCr(cr("NetworkService", { name: "x", paylod: "IP" }))).toThrow(/^spec: .*paylod/);
    expect(() => serviceOfCr(cr("NetworkService", { name: "x", matches: "all" }))).toThrow(/^spec: .*matches/);
    expect(() => serviceOfCr(cr("NetworkService", ["x"]))).toThrow(/^spec: expected an object/);
    expect(() => endpointOfCr(cr("NetworkServiceEndpoint", { name: "e", expiration_time: { seconds: "soon" } }))).toThrow(/^spec\.expiration_time\.seconds: expected an integer/);
    expect(() => endpointOfCr(cr("NetworkServiceEndpoint", { name: "e", expiration_time: { seconds: 1, nanos: 2e9 } }))).toThrow(/^spec\.expiration_time\.nanos/);
    expect(() => endpointOfCr(cr("NetworkServiceEndpoint", { name: "e", expiration_time: "tomorrow" }))).toThrow(/^spec\.expiration_time: .*"tomorrow"/);
    expect(() => endpointOfCr(cr("NetworkServiceEndpoint", { name: "e", network_service_names: "forwarder" }))).toThrow(/^spec: .*network_service_names/);
  });
});
