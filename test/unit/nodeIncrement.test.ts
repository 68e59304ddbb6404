import { describe, expect, it } from "vitest";
import { planIncrement } from "../../lab/dataplane/node.ts";
import type { WantedVn } from "../../lab/dataplane/node.ts";

const gw = { ip: "10.1.0.1", prefixLength: 24 };
const local = (n: number) => ({ ip: `10.1.0.${n}`, mac: `02:00:00:00:00:0${n}`, tap: `tap${n}` });
const remote = (n: number) => ({ ip: `10.1.0.${n}`, mac: `02:00:00:00:00:0${n}`, remoteIp: "172.31.0.12" });

function vn(endpoints: WantedVn["endpoints"], networkId = 5, gateways = [gw]): WantedVn {
  return { networkId, gateways, taps: endpoints.flatMap((e) => (e.tap ? [e.tap] : [])), endpoints };
}

const none = new Set<string>();

describe("a node's incremental update (planIncrement)", () => {
  it("puts a new port on its bridge with its neighbour and fdb entries, and nothing else", () => {
    expect(planIncrement([vn([local(2)])], [vn([local(2), local(3)])], none)).toEqual({
      ip: [
        ["link", "set", "tap3", "master", "vn5", "up"],
        ["neigh", "replace", "10.1.0.3", "lladdr", "02:00:00:00:00:03", "dev", "vn5", "nud", "permanent"],
      ],
      bridge: [["fdb", "replace", "02:00:00:00:00:03", "dev", "tap3", "master", "static"]],
    });
  });

  it("takes a removed port off its bridge, whose fdb entries go with it", () => {
    expect(planIncrement([vn([local(2), local(3)])], [vn([local(2)])], none)).toEqual({
      ip: [
        ["link", "set", "tap3", "nomaster"],
        ["neigh", "del", "10.1.0.3", "dev", "vn5"],
      ],
      bridge: [],
    });
  });

  it("programs a remote endpoint behind the VXLAN and removes it again", () => {
    const added = planIncrement([vn([local(2)])], [vn([local(2), remote(4)])], none)!;
    expect(added.ip).toEqual([["neigh", "replace", "10.1.0.4", "lladdr", "02:00:00:00:00:04", "dev", "vn5", "nud", "permanent"]]);
    expect(added.bridge).toEqual([
      ["fdb", "replace", "02:00:00:00:00:04", "dev", "vx5", "dst", "172.31.0.12", "self", "permanent"],
      ["fdb", "replace", "02:00:00:00:00:04", "dev", "vx5", "master", "static"],
    ]);
    const removed = planIncrement([vn([local(2), remote(4)])], [vn([local(2)])], none)!;
    expect(removed.bridge).toEqual([
      ["fdb", "del", "02:00:00:00:00:04", "dev", "vx5", "dst", "172.31.0.12", "self"],
      ["fdb", "del", "02:00:00:00:00:04", "dev", "vx5", "master"],
    ]);
  });

  it("puts a re-plugged port's tap back even when the table did not change (its veth may be new)", () => {
    expect(planIncrement([vn([local(2)])], [vn([local(2)])], none)).toEqual({ ip: [], bridge: [] });
    expect(planIncrement([vn([local(2)])], [vn([local(2)])], new Set(["tap2"]))).toEqual({
      ip: [["link", "set", "tap2", "master", "vn5", "up"]],
      bridge: [["fdb", "replace", "02:00:00:00:00:02", "dev", "tap2", "master", "static"]],
    });
  });

  it("leaves a VN arriving or leaving, or its gateways changing, to the full convergence", () => {
    expect(planIncrement([vn([local(2)])], [vn([local(2)]), vn([local(3)], 6)], none)).toBeUndefined();
    expect(planIncrement([vn([local(2)]), vn([local(3)], 6)], [vn([local(2)])], none)).toBeUndefined();
    expect(planIncrement([vn([local(2)])], [vn([local(2)], 6)], none)).toBeUndefined();
    expect(planIncrement([vn([local(2)])], [vn([local(2)], 5, [gw, { ip: "10.2.0.1", prefixLength: 24 }])], none)).toBeUndefined();
  });

  it("moves a tap between VNs without taking it off the new bridge", () => {
    const before = [vn([local(2)], 5), vn([local(3)], 6, [{ ip: "10.2.0.1", prefixLength: 24 }])];
    const after = [vn([], 5), vn([local(3), local(2)], 6, [{ ip: "10.2.0.1", prefixLength: 24 }])];
    const plan = planIncrement(before, after, none)!;
    expect(plan.ip).toContainEqual(["link", "set", "tap2", "master", "vn6", "up"]);
    expect(plan.ip).not.toContainEqual(["link", "set", "tap2", "nomaster"]);
  });
});
