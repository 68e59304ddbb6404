// The provider text Pulumi stores in every resource's state: small, free of implementation code,
// and still working when the engine loads it back (as the dynamic-provider plugin does).
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { NetworkService, PodAttachment, VirtualMachine, VirtualNetwork } from "../../provider/index.ts";

const providerTexts = new Map<string, string>();
/** Every provider text seen per type, one entry per registered resource. */
const textsPerType = new Map<string, string[]>();
const require = createRequire(import.meta.url);
const requireFromString: (code: string) => { handler: () => pulumi.dynamic.ResourceProvider } = require("require-from-string");

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        providerTexts.set(args.type, args.inputs.__provider);
        textsPerType.set(args.type, [...(textsPerType.get(args.type) ?? []), args.inputs.__provider]);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: () => ({}),
    },
    "tfmesh",
    "test",
    true,
  );
  const vn = new VirtualNetwork("red", { name: "red", subnets: [{ cidr: "10.1.1.0/24" }] });
  new VirtualNetwork("blue", { name: "blue", project: "default-domain:admin", subnets: [{ cidr: "10.2.2.0/24", addrFromStart: true }] });
  new VirtualMachine("vm", { image: "cirros", flavor: "m1.tiny", networks: [vn.uuid] });
  new NetworkService("svc", { name: "red", virtualNetwork: vn.fqName });
  new PodAttachment("att", { pod: "red-pod", networkService: "red" });
  await new Promise<void>((resolve) => vn.urn.apply(() => resolve()));
  // Serialization is asynchronous; wait until every resource has been registered.
  const registered = () => [...textsPerType.values()].reduce((n, texts) => n + texts.length, 0);
  await eventually(() => registered() >= 5, { what: "the five resources to be registered", timeoutMs: 10_000, intervalMs: 20 });
});

const tokens = [
  "pulumi-nodejs:dynamic/tf:VirtualNetwork",
  "pulumi-nodejs:dynamic/openstack:VirtualMachine",
  "pulumi-nodejs:dynamic/nsm:NetworkService",
  "pulumi-nodejs:dynamic/nsm:PodAttachment",
];

describe("serialized provider", () => {
  it.each(tokens)("%s: a shim under 4 KB that names its implementation module and holds none of it", (token) => {
    const text = providerTexts.get(token);
    expect(text, `no provider text registered for ${token}`).toBeTypeOf("string");
    expect(Buffer.byteLength(text!)).toBeLessThan(4096);
    const kind = token.split(":").at(-1)!;
    expect(text).toContain(`"tfmesh/provider/impl/${kind[0]!.toLowerCase()}${kind.slice(1)}"`);
    for (const implementationDetail of ["HttpClient", "Failures", "fetch", "x-auth-token", "decideName", "network_ipam_refs"]) {
      expect(text).not.toContain(implementationDetail);
    }
  });

  it("is the same text for every resource of a type (no per-resource values captured)", () => {
    const networks = textsPerType.get("pulumi-nodejs:dynamic/tf:VirtualNetwork") ?? [];
    expect(networks).toHaveLength(2);
    expect(networks[0]).toBe(networks[1]);
  });

  it("is a different text per type (each loads its own implementation)", () => {
    expect(new Set(tokens.map((t) => providerTexts.get(t))).size).toBe(tokens.length);
  });

  it("works when loaded back from its text the way the dynamic-provider plugin does", async () => {
    const provider = requireFromString(providerTexts.get("pulumi-nodejs:dynamic/tf:VirtualNetwork")!).handler();
    const r = await provider.check!({}, { __logicalName: "x", name: "x", subnets: [{ cidr: "10.1.1.0/33" }] });
    expect(r.failures?.map((f) => f.property)).toContain("subnets[0].cidr");
  });
});
