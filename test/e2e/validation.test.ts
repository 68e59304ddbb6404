// Bad input fails at preview, names the property, and creates nothing — through the real engine
// (Automation API, CLI, dynamic-provider plugin) against a private lab.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { commandOutput, labStackFixture } from "./helpers.ts";

const workDir = join(repoRoot, "test", "e2e", "programs", "invalid");
const stackConfigDir = join(repoRoot, ".state", "stacks", "e2e-invalid");

const t = labStackFixture(workDir, stackConfigDir);

describe("preview rejects bad input by property, before anything exists", () => {
  it.each([
    ["cidr", "VirtualNetwork", "subnets[0].cidr", /prefix length 33/],
    ["overlap", "VirtualNetwork", "subnets", /overlap/],
    ["gateway", "VirtualNetwork", "subnets[0].gateway", /not a host address of 10\.7\.1\.0\/24/],
    ["forwarder", "NetworkService", "forwarder", /unknown forwarder "vpp"/],
    ["ifname", "PodAttachment", "interfaceName", /at most 15/],
    ["namespace", "PodAttachment", "namespace", /"Not_A_Namespace" is not a DNS-1123 label/],
    ["image", "VirtualMachine", "image", /no-such-image.*does not exist/],
  ])(
    "%s: %s.%s",
    async (which, type, property, reason) => {
      await t.e2e.stack.setConfig("invalid:case", { value: which });
      const err = await t.e2e.stack.preview().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, "preview should have failed").toBeDefined();
      const out = commandOutput(err);
      expect(out).toContain(`pulumi-nodejs:dynamic/`);
      expect(out).toContain(type);
      expect(out).toContain(`property ${property} `);
      expect(out).toMatch(reason);
      const status = await t.lab.status();
      expect(status.counts).toEqual({ virtualNetworks: 0, virtualMachines: 0, ports: 0, pods: 0, connections: 0 });
    },
    120_000,
  );
});
