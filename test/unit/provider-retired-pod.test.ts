// A 0.2 stack's Pod resources (state naming tfmesh/provider/impl/pod) can still be refreshed,
// replaced away and destroyed after the upgrade; declaring one again fails saying what to use.
import { describe, expect, it } from "vitest";
import { RETIRED, provider } from "../../provider/impl/pod.ts";

const state = { name: "red-pod", node: "k8s-1", netns: "tfm-pod-red-pod", uid: "u", status: "Running", eth0: { ip: "10.244.1.3", prefixLength: 16, mac: "0a:58:0a:f4:01:03" } };

describe("the retired Pod resource", () => {
  it("reads as gone, so a refresh drops it from the state", async () => {
    expect(await provider.read!("red-pod", state)).toEqual({ id: "" });
  });

  it("deletes without touching anything, so destroy and an up without it go through", async () => {
    await expect(provider.delete!("red-pod", state)).resolves.toBeUndefined();
  });

  it("refuses to be declared again at preview, naming what replaces it", async () => {
    const r = await provider.check!({}, { name: "red-pod" });
    expect(r.failures).toEqual([{ property: "name", reason: RETIRED }]);
    expect(RETIRED).toMatch(/k8s\.core\.v1\.Pod/);
    await expect(provider.create({ name: "red-pod" })).rejects.toThrow(/removed in tfmesh 0\.3/);
  });
});
