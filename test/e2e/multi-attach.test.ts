// examples/multi-attach: one pod on red and blue at once, through the Automation API on a
// private lab; the pod reaches a port on each network and destroy removes everything.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as ip from "../../lib/kernel/ip.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { expectNothingLeft, labStackFixture } from "./helpers.ts";
import { netnsOfPod } from "./kube.ts";

const workDir = join(repoRoot, "examples", "multi-attach");
const stackConfigDir = join(repoRoot, ".state", "stacks", "multi-attach");
const STEP = 180_000;

const t = labStackFixture(workDir, stackConfigDir, { "multiattach:prefix": "ma-" });

describe("examples/multi-attach on the lab", () => {
  it("gives the pod nsm-1 on red and nsm-2 on blue beside eth0, each routing only its own subnet", async () => {
    const up = await t.e2e.stack.up();
    expect(up.summary.result).toBe("succeeded");
    const interfaces = up.outputs.interfaces!.value as Array<{ service: string; name: string; ip: string; mac: string }>;
    expect(interfaces.map((i) => [i.service, i.name])).toEqual([["ma-red", "nsm-1"], ["ma-blue", "nsm-2"]]);
    expect(interfaces[0]!.ip).toMatch(/^10\.1\.1\./);
    expect(interfaces[1]!.ip).toMatch(/^10\.2\.2\./);
    const ns = await netnsOfPod(t.kube, "ma-multi-pod");
    const links = await ip.json<{ ifname: string; address: string }>(["link", "show"], ns);
    expect(links.find((l) => l.ifname === "nsm-1")?.address).toBe(interfaces[0]!.mac);
    expect(links.find((l) => l.ifname === "nsm-2")?.address).toBe(interfaces[1]!.mac);
    const routes = await ip.json<{ dst: string; dev: string }>(["route", "show"], ns);
    expect(routes).toContainEqual(expect.objectContaining({ dst: "10.1.1.0/24", dev: "nsm-1" }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: "10.2.2.0/24", dev: "nsm-2" }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: "default", dev: "eth0" }));
    // Each network's gateway answers on its interface.
    expect((await t.lab.ping(ns, "10.1.1.254", { count: 1, wait: 2 })).ok).toBe(true);
    expect((await t.lab.ping(ns, "10.2.2.254", { count: 1, wait: 2 })).ok).toBe(true);
  }, STEP);

  it("destroy removes the pod, both attachments and both networks", async () => {
    const destroy = await t.e2e.stack.destroy();
    // 2 x (VN + service), the k8s pod, 2 attachments, the Kubernetes provider, the stack
    expect(destroy.summary.resourceChanges).toEqual({ delete: 9 });
    await expectNothingLeft(t.lab, t.api, t.before);
  }, STEP);
});
