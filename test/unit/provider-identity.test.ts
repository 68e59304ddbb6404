// The identity creates are idempotent by (provider/impl/identity.ts, provider/owner.ts): every
// resource class gives its own URN as `__owner`, check keeps it and derives from it what a create
// retried after a crash must find again (the physical name's suffix, the NSM connection id); a
// create that fails after its first write reports the object with the provider text; and the
// crash hook kills only at the named step.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { crashRequested } from "../../lib/crashPoint.ts";
import { TenantNetwork } from "../../components/tenantNetwork.ts";
import { AttachedPod } from "../../components/attachedPod.ts";
import { VirtualMachine } from "../../provider/virtualMachine.ts";
import { OWNER, PartialCreateError, checkOwner, ownerUuid, partialCreate, sameStack } from "../../provider/impl/identity.ts";
import { Failures } from "../../provider/impl/inputs.ts";
import { provider as podAttachment } from "../../provider/impl/podAttachment.ts";
import { provider as virtualNetwork } from "../../provider/impl/virtualNetwork.ts";

const owners = new Map<string, string>();

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        if (args.inputs[OWNER] !== undefined) owners.set(`${args.type}/${args.name}`, args.inputs[OWNER]);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: () => ({}),
    },
    "proj",
    "dev",
    true,
  );
});

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

describe("__owner", () => {
  it("is the resource's own URN, at the top level and under a component (with the parent's type chain)", async () => {
    const vm = new VirtualMachine("app", { image: "cirros", flavor: "m1.tiny", networks: ["red"] });
    const red = new TenantNetwork("red", { subnets: [{ cidr: "10.1.1.0/24" }] });
    const pod = new AttachedPod("web", { networks: [{ service: "red" }], provider: new k8s.Provider("k", { kubeconfig: "/nonexistent" }) });
    // (The Kubernetes pod is @pulumi/kubernetes's: it has no __owner.)
    const all = [vm, red.network, red.service, ...pod.attachments];
    await Promise.all(all.map((r) => value(r.id)));
    for (const r of all) {
      const urn = await value(r.urn);
      const [, type, name] = /::([^:]+(?::[^:]+)*?)::([^:]+)$/.exec(urn)!;
      expect(owners.get(`${type!.split("$").pop()}/${name}`), urn).toBe(urn);
    }
    expect(await value(red.service.urn)).toBe("urn:pulumi:dev::proj::tfmesh:index:TenantNetwork$pulumi-nodejs:dynamic/nsm:NetworkService::red");
  });

  it("check keeps it, and refuses anything that is not a URN, naming the field", () => {
    const f = new Failures();
    expect(checkOwner(f, { [OWNER]: "urn:pulumi:dev::proj::pulumi-nodejs:dynamic/tf:VirtualNetwork::red" })).toMatch(/^urn:pulumi:dev::/);
    expect(checkOwner(f, {})).toBeUndefined();
    expect(f.list).toEqual([]);
    checkOwner(f, { [OWNER]: "red" });
    checkOwner(f, { [OWNER]: 7 });
    expect(f.list.map((x) => x.property)).toEqual([OWNER, OWNER]);
    expect(f.list[0]!.reason).toMatch(/must be the resource's URN .*"red"/);
  });

  it("tells the stacks apart", () => {
    const a = "urn:pulumi:dev::proj::pulumi-nodejs:dynamic/tf:VirtualNetwork::red";
    expect(sameStack(a, "urn:pulumi:dev::proj::kubernetes:core/v1:Pod::p")).toBe(true);
    expect(sameStack(a, "urn:pulumi:prod::proj::pulumi-nodejs:dynamic/tf:VirtualNetwork::red")).toBe(false);
  });
});

describe("what a retried create derives from the owner", () => {
  const owner = "urn:pulumi:dev::proj::pulumi-nodejs:dynamic/tf:VirtualNetwork::net";

  it("an unnamed resource gets the same name in every check without old inputs (a retry after a crash), another owner another one", async () => {
    const check = (o: string) => virtualNetwork.check!({}, { __logicalName: "net", [OWNER]: o, subnets: [{ cidr: "10.5.0.0/24" }] });
    const [a, b] = await Promise.all([check(owner), check(owner)]);
    expect(a.inputs.name).toMatch(/^net-[0-9a-f]{7}$/);
    expect(b.inputs.name).toBe(a.inputs.name);
    expect((await check(owner.replace("dev", "prod"))).inputs.name).not.toBe(a.inputs.name);
    expect(a.inputs[OWNER]).toBe(owner);
  });

  it("a PodAttachment's connection id is a UUID derived from its owner, kept from old inputs, random without an owner", async () => {
    const att = "urn:pulumi:dev::proj::pulumi-nodejs:dynamic/nsm:PodAttachment::web-nsm-1";
    const news = { pod: "web", networkService: "red", [OWNER]: att };
    const first = (await podAttachment.check!({}, news)).inputs.connectionId;
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await podAttachment.check!({}, news)).inputs.connectionId).toBe(first);
    expect(first).toBe(ownerUuid(att, "nsm-connection"));
    expect((await podAttachment.check!({ connectionId: "kept-id" }, news)).inputs.connectionId).toBe("kept-id");
    const { [OWNER]: _, ...anonymous } = news;
    const r1 = (await podAttachment.check!({}, anonymous)).inputs.connectionId;
    expect(r1).not.toBe((await podAttachment.check!({}, anonymous)).inputs.connectionId);
  });

  it("the provider's owner label cannot be set by the program", async () => {
    const r = await podAttachment.check!({}, { pod: "web", networkService: "red", labels: { "tfmesh-owner": "me" } });
    expect(r.failures).toEqual([{ property: "labels.tfmesh-owner", reason: expect.stringMatching(/set by the provider/) }]);
  });
});

describe("partial creates", () => {
  it("carry the id, the outputs with their inputs and the provider text, and say what happens next", () => {
    const inputs = { __provider: "exports.handler = ...", name: "vm" };
    const err = partialCreate(new Error("server went to ERROR"), "srv-1", { serverId: "srv-1", status: "BUILD" }, inputs);
    expect(err).toBeInstanceOf(PartialCreateError);
    expect(err.id).toBe("srv-1");
    expect(err.properties).toEqual({ serverId: "srv-1", status: "BUILD", __inputs: { name: "vm" }, __provider: "exports.handler = ..." });
    expect(err.message).toMatch(/^server went to ERROR \(the stack keeps srv-1: .*pulumi destroy/);
    expect(err.reasons).toEqual([err.message]);
  });
});

describe("crash points", () => {
  it("fire only at a named step", () => {
    const env = { TFMESH_CRASH_AT: "vm.server-accepted, attachment.requested" };
    expect(crashRequested("vm.server-accepted", "TFMESH_CRASH_AT", env)).toBe(true);
    expect(crashRequested("attachment.requested", "TFMESH_CRASH_AT", env)).toBe(true);
    expect(crashRequested("vm.server", "TFMESH_CRASH_AT", env)).toBe(false);
    expect(crashRequested("vm.server-accepted", "TFMESH_LAB_CRASH_AT", env)).toBe(false);
    expect(crashRequested("vm.server-accepted", "TFMESH_CRASH_AT", {})).toBe(false);
  });
});
