import { describe, expect, it } from "vitest";
import { NSC_INIT_CONTAINER, NSC_INIT_IMAGE, NSC_SIDECAR_CONTAINER, review, webhookConfiguration } from "../../lab/kube/admission.ts";

const pod = (annotations: Record<string, string> | undefined, spec: Record<string, unknown> = { containers: [{ name: "app", image: "busybox" }] }) => ({
  uid: "r1",
  kind: { group: "", version: "v1", kind: "Pod" },
  operation: "CREATE" as const,
  namespace: "default",
  object: { metadata: { name: "web-1", ...(annotations ? { annotations } : {}) }, spec },
});

const patchOf = (r: ReturnType<typeof review>) => JSON.parse(Buffer.from(r.patch ?? "", "base64").toString("utf8")) as Array<{ op: string; path: string; value: Record<string, unknown> }>;

describe("the lab's NSM admission webhook", () => {
  it("injects nsc-init and the nsc sidecar, with the annotation as NSM_NETWORK_SERVICES", () => {
    const r = review(pod({ "networkservicemesh.io": "kernel://red/nsm-1" }));
    expect(r).toMatchObject({ uid: "r1", allowed: true, patchType: "JSONPatch" });
    const ops = patchOf(r);
    expect(ops.map((o) => [o.op, o.path])).toEqual([
      ["add", "/spec/initContainers"],
      ["add", "/spec/containers/-"],
    ]);
    const init = (ops[0]!.value as unknown as Array<Record<string, unknown>>)[0]!;
    expect(init).toMatchObject({ name: NSC_INIT_CONTAINER, image: NSC_INIT_IMAGE });
    expect(init.env).toContainEqual({ name: "NSM_NETWORK_SERVICES", value: "kernel://red/nsm-1" });
    expect(ops[1]!.value).toMatchObject({ name: NSC_SIDECAR_CONTAINER });
  });

  it("appends nsc-init after the pod's own init containers, and injects nothing twice", () => {
    const ops = patchOf(review(pod({ "networkservicemesh.io": "kernel://red" }, { initContainers: [{ name: "setup" }], containers: [{ name: "app" }] })));
    expect(ops[0]).toMatchObject({ op: "add", path: "/spec/initContainers/-", value: { name: NSC_INIT_CONTAINER } });
    const again = review(pod({ "networkservicemesh.io": "kernel://red" }, { initContainers: [{ name: NSC_INIT_CONTAINER }], containers: [{ name: "app" }, { name: NSC_SIDECAR_CONTAINER }] }));
    expect(again).toEqual({ uid: "r1", allowed: true });
  });

  it("lets pods without the annotation through untouched", () => {
    expect(review(pod(undefined))).toEqual({ uid: "r1", allowed: true });
  });

  it("refuses a pod whose annotation is bad, naming the entry", () => {
    const r = review(pod({ "networkservicemesh.io": "kernel://red/nsm-1,kernel://Blue" }));
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toMatch(/^Pod default\/web-1: networkservicemesh.io entry 2 \("kernel:\/\/Blue"\): network service: name "Blue"/);
  });

  it("refuses a Deployment whose pod template's annotation is bad, on create and update, without patching it", () => {
    const dep = (op: "CREATE" | "UPDATE", value: string) =>
      review({ uid: "d", kind: { group: "apps", version: "v1", kind: "Deployment" }, operation: op, namespace: "apps", object: { metadata: { name: "web" }, spec: { template: { metadata: { annotations: { "networkservicemesh.io": value } } } } } });
    expect(dep("CREATE", "kernel://red/this-name-is-too-long").status?.message).toMatch(/^Deployment apps\/web \(pod template\): networkservicemesh.io entry 1 .*at most 15/);
    expect(dep("UPDATE", "vfio://red").allowed).toBe(false);
    expect(dep("CREATE", "kernel://red")).toEqual({ uid: "d", allowed: true });
  });

  it("is configured to fail closed for pods and workloads outside the control plane's and the lab's namespaces", () => {
    const c = webhookConfiguration("https://127.0.0.1:1234/mutate", "PEM") as unknown as { webhooks: Array<Record<string, any>> };
    expect(c.webhooks.map((w) => w.failurePolicy)).toEqual(["Fail", "Fail"]);
    expect(c.webhooks[0]!.rules[0].resources).toEqual(["pods"]);
    expect(c.webhooks[0]!.namespaceSelector.matchExpressions[0].values).toContain("nsm-system");
    expect(c.webhooks[1]!.rules[0].resources).toContain("deployments");
  });
});
