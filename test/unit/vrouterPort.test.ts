// The tungsten forwarder's vrouter-port element: it plugs the port while the rest of the chain (the
// pod's address) does its part, answers once both are done, and undoes either side when the other fails.
import { describe, expect, it } from "vitest";
import { chain } from "../../nsm/chain.ts";
import type { Element } from "../../nsm/chain.ts";
import { vrouterPort } from "../../nsm/forwarders/tungsten/vrouterPort.ts";
import { VM_UUID, VMI_UUID, VN_UUID } from "../../nsm/forwarders/tungsten/context.ts";
import type { Connection } from "../../wire/nsm/api.ts";
import type { VrouterAgentClient } from "../../wire/vrouterAgent.ts";

const VMI = "7f1c2a8e-0000-4000-8000-000000000001";

const connection: Connection = {
  id: "c-1",
  network_service: "red",
  labels: { nodeName: "k8s-1" },
  context: {
    ip_context: { src_ip_addrs: ["10.1.1.3/24"] },
    ethernet_context: { src_mac: "02:00:00:00:00:03" },
    extra_context: { [VMI_UUID]: VMI, [VM_UUID]: "vm-uuid", [VN_UUID]: "vn-uuid" },
  },
};

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function fakeAgent(plug: Promise<void>, log: string[]): VrouterAgentClient {
  return {
    addPort: async () => {
      log.push("plug started");
      await plug;
      log.push("plugged");
    },
    deletePort: async (uuid: string) => void log.push(`unplug ${uuid}`),
    getPort: async () => undefined,
  } as unknown as VrouterAgentClient;
}

/** The rest of the chain: records when it runs, and may fail. */
function rest(log: string[], fail?: string): Element<Connection> {
  return {
    name: "rest",
    request: async (c) => {
      log.push("rest ran");
      if (fail) throw new Error(fail);
      return c;
    },
    close: async () => void log.push("rest closed"),
  };
}

describe("tungsten/vrouter-port", () => {
  it("runs the rest of the chain while the plug is under way, and answers only once it is done", async () => {
    const log: string[] = [];
    const plug = deferred();
    const answered = chain([vrouterPort(() => fakeAgent(plug.promise, log)), rest(log)]).request(connection);
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(["plug started", "rest ran"]);
    let done = false;
    void answered.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    plug.resolve();
    expect((await answered).context?.extra_context?.["tungsten.plugged_port"]).toBe(VMI);
    expect(log).toEqual(["plug started", "rest ran", "plugged"]);
  });

  it("closes what the rest built when the plug fails, and leaves no port", async () => {
    const log: string[] = [];
    const plug = deferred();
    const answered = chain([vrouterPort(() => fakeAgent(plug.promise, log)), rest(log)]).request(connection);
    plug.reject(new Error("agent refused"));
    await expect(answered).rejects.toThrow("tungsten/vrouter-port: agent refused");
    expect(log).toEqual(["plug started", "rest ran", "rest closed", `unplug ${VMI}`]);
  });

  it("unplugs after the plug settled when the rest fails", async () => {
    const log: string[] = [];
    const plug = deferred();
    const answered = chain([vrouterPort(() => fakeAgent(plug.promise, log)), rest(log, "no address")]).request(connection);
    await new Promise((r) => setImmediate(r));
    plug.resolve();
    await expect(answered).rejects.toThrow("rest: no address");
    expect(log).toEqual(["plug started", "rest ran", "plugged", `unplug ${VMI}`]);
  });

  it("keeps what a heal found established when its plug fails", async () => {
    const log: string[] = [];
    const plug = deferred();
    const answered = chain([vrouterPort(() => fakeAgent(plug.promise, log)), rest(log)]).request({ ...connection, state: "UP" });
    plug.reject(new Error("agent refused"));
    await expect(answered).rejects.toThrow("agent refused");
    expect(log).toEqual(["plug started", "rest ran"]);
  });
});
