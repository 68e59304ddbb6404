import { describe, expect, it } from "vitest";
import type { Connection } from "../../wire/nsm/api.ts";
import type { Next } from "../../nsm/chain.ts";
import type { KernelOps, LinkInfo } from "../../nsm/forwarders/common/kernelOps.ts";
import { bridgeName } from "../../nsm/forwarders/kernel/names.ts";
import { localBridge as bridgeElement } from "../../nsm/forwarders/kernel/localBridge.ts";

const NODE = "t-node";
const BRIDGE = bridgeName("svc");

/** A node netns as links only: enough for the bridge element. */
function fakeKernel(): KernelOps & { nodeLinks: LinkInfo[] } {
  const nodeLinks: LinkInfo[] = [];
  const unused = async () => {
    throw new Error("not used here");
  };
  return {
    nodeLinks,
    netnsExists: () => true,
    links: async () => nodeLinks.map((l) => ({ ...l })),
    createVeth: unused,
    configureLink: unused,
    addresses: unused,
    configureIp: unused,
    announce: () => {},
    deleteLink: async (name) => {
      const i = nodeLinks.findIndex((l) => l.name === name);
      if (i >= 0) nodeLinks.splice(i, 1);
    },
    ensureBridge: async (name) => {
      if (!nodeLinks.some((l) => l.name === name)) nodeLinks.push({ name, up: true });
    },
  };
}

/** Connection `id` of service "svc" on node "n" as it reaches the bridge element: ipam wrote its addresses. */
const call = (id: string, heal = false): Connection => ({
  id,
  network_service: "svc",
  labels: { nodeName: "n" },
  mechanism: { cls: "LOCAL", type: "KERNEL", parameters: { netnsName: `t-pod-${id}` } },
  network_service_endpoint_name: "kernel@n",
  context: {
    ip_context: { src_ip_addrs: ["10.60.0.2/24"], dst_ip_addrs: ["10.60.0.1/24"], src_routes: [{ prefix: "10.60.0.0/24" }] },
    extra_context: { "kernel.cidr": "10.60.0.0/24" },
  },
  ...(heal ? { state: "UP" as const } : {}),
});

/** The element on node "n", whose netns is NODE. */
const localBridge = (kernel: KernelOps) => bridgeElement(kernel, { nodeNetns: () => NODE });

const deferred = () => {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

/** The rest of the chain: enslaves a host end named after the connection once `gate` opens. */
function restOfChain(kernel: ReturnType<typeof fakeKernel>, gates: Map<string, ReturnType<typeof deferred>>, reached: string[]): Next<Connection> {
  return {
    request: async (c) => {
      reached.push(c.id);
      await gates.get(c.id)?.promise;
      kernel.nodeLinks.push({ name: `host-${c.id}`, up: true, master: BRIDGE });
      return c;
    },
    close: async (c) => {
      await kernel.deleteLink(`host-${c.id}`, NODE);
    },
    check: async () => undefined,
  };
}

describe("kernel forwarder bridge element", () => {
  it("lets requests of different connections on one bridge proceed side by side", async () => {
    const kernel = fakeKernel();
    const gates = new Map([["a", deferred()]]);
    const reached: string[] = [];
    const element = localBridge(kernel);
    const rest = restOfChain(kernel, gates, reached);

    const a = element.request(call("a"), rest);
    // "a" is parked in the rest of its chain; "b" must not wait for it.
    await element.request(call("b"), rest);
    expect(reached).toEqual(["a", "b"]);
    gates.get("a")!.resolve();
    await a;
    expect(kernel.nodeLinks.filter((l) => l.master === BRIDGE)).toHaveLength(2);
  });

  it("keeps the bridge when the last enslaved connection closes while another request is about to enslave its interface", async () => {
    const kernel = fakeKernel();
    const gates = new Map([["b", deferred()]]);
    const reached: string[] = [];
    const element = localBridge(kernel);
    const rest = restOfChain(kernel, gates, reached);

    const a = await element.request(call("a"), rest);
    const b = element.request(call("b"), rest);
    while (!reached.includes("b")) await new Promise((r) => setImmediate(r));
    await element.close(a, rest);
    expect(kernel.nodeLinks.map((l) => l.name)).toContain(BRIDGE);
    gates.get("b")!.resolve();
    await b;
    expect(kernel.nodeLinks.find((l) => l.name === "host-b")?.master).toBe(BRIDGE);

    await element.close(await b, rest);
    expect(kernel.nodeLinks).toEqual([]);
  });

  it("removes the bridge a failed first request created when nothing else uses it", async () => {
    const kernel = fakeKernel();
    const element = localBridge(kernel);
    const failing: Next<Connection> = {
      request: async () => {
        throw new Error("veth failed");
      },
      close: async () => {},
      check: async () => undefined,
    };
    await expect(element.request(call("a"), failing)).rejects.toThrow("veth failed");
    expect(kernel.nodeLinks).toEqual([]);
  });
});
