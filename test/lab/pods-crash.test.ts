// The pod runtime's stores commit in an order a crash cannot split (a spawned lab daemon, killed
// by its crash hook at a named step, then started again): the pod record is written before the
// namespace is made, so a kill right after the record or right after the namespace leaves a pod
// the restart finishes (Running, its namespace and eth0 there, DELETE removes all of it); a
// namespace the data plane holds without a pod record is removed at start.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_CRASH_ENV } from "../../lib/crashPoint.ts";
import { ConnectionError } from "../../lib/http/client.ts";
import { netns } from "../../lib/kernel/index.ts";
import { podNetns } from "../../lab/dataplane/names.ts";
import { DataplaneState } from "../../lab/dataplane/state.ts";
import { openDb } from "../../lab/store/db.ts";
import { PodsClient } from "../../wire/pods.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

let lab: TestLab;
let pods: PodsClient;

beforeAll(async () => {
  lab = await startLab();
  pods = new PodsClient(lab.endpoints.pods, { retries: 0, token: async () => (await lab.authHeaders())["x-auth-token"] });
}, LAB_TIMEOUT);

afterAll(async () => {
  delete process.env[LAB_CRASH_ENV];
  await lab?.stop();
}, LAB_TIMEOUT);

/** Restarts the daemon with the crash hook armed at `step`; creating `name` then kills it there. */
async function crashWhileCreating(step: string, name: string): Promise<void> {
  process.env[LAB_CRASH_ENV] = step;
  try {
    await lab.restart();
  } finally {
    delete process.env[LAB_CRASH_ENV];
  }
  await expect(pods.create({ name, node: "k8s-1" })).rejects.toBeInstanceOf(ConnectionError);
  await lab.restart();
}

const podNamespaces = () => lab.namespaces().filter((ns) => ns.startsWith(`${lab.prefix}-pod-`));

describe("a lab daemon killed while it creates a pod", () => {
  it.each([
    ["pods.recorded", "after-record"],
    ["pods.created", "after-netns"],
  ])("at %s: the restart finishes the pod, which then deletes completely", async (step, name) => {
    await crashWhileCreating(step, name);
    const pod = await pods.get(name);
    expect(pod).toMatchObject({ name, node: "k8s-1", status: "Running", netns: podNetns(lab.prefix, name), eth0: { ip: expect.stringMatching(/^10\.244\.1\.\d+$/), prefixLength: 16 } });
    expect((await lab.inLab(name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])).stdout).toContain(`${pod!.eth0.ip}/16`);
    expect((await lab.api.delete<{ deleted: boolean }>(`/pods/${name}`)).body).toEqual({ name, deleted: true });
    expect(podNamespaces()).toEqual([]);
    expect(await pods.list()).toEqual([]);
  });
});

describe("a namespace the data plane holds without a pod record", () => {
  it("is removed when the lab starts", async () => {
    await lab.restart(async () => {
      // What a daemon of 0.2 could leave: the data plane's row and namespace, no pod record.
      const db = openDb(lab.stateDir);
      try {
        new DataplaneState(db).savePod({ name: "orphan", uid: randomUUID(), node: "k8s-1", ip: "10.244.1.200", mac: "0a:58:0a:f4:01:c8" });
      } finally {
        db.close();
      }
      await netns.add(podNetns(lab.prefix, "orphan"));
    });
    expect(podNamespaces()).toEqual([]);
    expect(await pods.get("orphan")).toBeUndefined();
    const db = openDb(lab.stateDir);
    try {
      expect(new DataplaneState(db).listPods()).toEqual([]);
    } finally {
      db.close();
    }
  });
});
