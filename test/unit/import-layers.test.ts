// Dependencies point one way (scripts/importLayers.ts): the check that fails when an import goes
// against the direction, run on the whole tree, and shown to catch each kind of wrong import.
import { describe, expect, it } from "vitest";
import { checkImports, importViolations } from "../../scripts/importLayers.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";

describe("import layers", () => {
  it("no module of the tree imports against the direction", () => {
    const found = importViolations(repoRoot).map((v) => `${v.file}: ${v.imports}: ${v.reason}`);
    expect(found).toEqual([]);
  });

  it.each([
    ["nsm/manager.ts", "../provider/clients/tf.ts", /nsm\/ and provider\/ are one layer/],
    ["lib/ipv4.ts", "../wire/tf.ts", /lib\/ \(layer 0\) must not import wire\/ \(layer 1\)/],
    ["lab/daemon.ts", "../components/index.ts", /lab\/ and components\/ are one layer/],
    ["bench/labs.ts", "../test/helpers/lab.ts", /bench\/ and test\/ are one layer/],
    ["lab/dataplane/index.ts", "../vrouter/agents.ts", /lab\/dataplane\/ must not import lab\/vrouter\//],
    ["lab/nsm/index.ts", "@pulumi/pulumi", /lab\/ must not load Pulumi/],
    ["lab/nsm/index.ts", "../../provider/clients/tf.ts", /lab\/ must not import provider\/: .*wire\//],
    ["provider/index.ts", "tfmesh/provider/impl/pod", /import the package by name/],
  ])("%s importing %s is reported", (file, spec, reason) => {
    expect(checkImports(file, [spec])).toEqual([expect.objectContaining({ file, imports: spec, reason: expect.stringMatching(reason) })]);
  });

  it.each([
    ["lab/vrouter/agents.ts", "../dataplane/names.ts"],
    ["provider/impl/context.ts", "../../lib/http/client.ts"],
    ["components/tenantNetwork.ts", "@pulumi/pulumi"],
    ["test/e2e/red-blue.test.ts", "../../lab/daemon.ts"],
    ["examples/red-blue/index.ts", "tfmesh/components/attachedPod"],
  ])("%s importing %s is allowed", (file, spec) => {
    expect(checkImports(file, [spec])).toEqual([]);
  });
});
