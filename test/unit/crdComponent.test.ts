// NetworkServiceCr (components/k8s) declares exactly the CR the lab's registry writes for the same
// service (wire/nsm/crd.ts networkServiceCr): NSM's spec with the binding in the first match, the
// informative annotations, and the registry's refusal of a name it would not take.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { NetworkServiceCr } from "../../components/k8s/networkServiceCr.ts";
import { parseNetworkService } from "../../nsm/registry.ts";
import { networkServiceCr, serviceOfCr } from "../../wire/nsm/crd.ts";

const registered: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];
const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: () => ({}),
    },
    "tfmesh",
    "test",
    true,
  );
});

describe("NetworkServiceCr", () => {
  it("is the CR the lab's registry writes for the same service", async () => {
    const c = new NetworkServiceCr("red-cr", { name: "red", virtualNetwork: "default-domain:admin:red" });
    await value(c.resource.id);
    expect(await value(c.serviceName)).toBe("red");
    const inputs = registered.find((r) => r.type === "kubernetes:networkservicemesh.io/v1:NetworkService" && r.name === "red-cr")!.inputs;
    const lab = networkServiceCr({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } }, "nsm-system");
    expect(inputs).toEqual(lab);
    expect(inputs.spec.matches[0]).toEqual({ metadata: { labels: { type: "tungsten" } }, routes: [{ destination_selector: { "tungsten.virtual_network": "default-domain:admin:red" } }] });
    // What the registry reads back from it is the service.
    expect(parseNetworkService(serviceOfCr(inputs as Parameters<typeof serviceOfCr>[0]))).toEqual({
      name: "red",
      payload: "ETHERNET",
      forwarder: "tungsten",
      tungsten: { virtual_network: "default-domain:admin:red" },
    });
  });

  it("refuses a name NSM's registry would refuse, naming it", () => {
    expect(() => new NetworkServiceCr("bad-cr", { name: "Not_A_Label", virtualNetwork: "default-domain:admin:x" })).toThrow(
      /^NetworkServiceCr bad-cr: name "Not_A_Label" is not a DNS-1123 label/,
    );
  });
});
