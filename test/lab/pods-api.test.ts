// The pod runtime API over a recording runtime: what a client of the lab's "pods" port can rely on.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpClient, HttpError } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { createPodsServer } from "../../lab/pods/server.ts";
import type { PodRuntime, PodsService } from "../../lab/pods/server.ts";

class RecordingRuntime implements PodRuntime {
  events: string[] = [];
  live = new Map<string, string>();
  failNext = false;
  async createPod(p: { name: string; uid: string; node: string }) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("netns creation failed");
    }
    this.events.push(`create ${p.name}@${p.node}`);
    this.live.set(p.name, p.node);
    const n = p.node === "k8s-1" ? 2 : 3;
    return { netns: `t-pod-${p.name}`, eth0: { ip: `10.244.${n}.${this.live.size + 1}`, prefixLength: 16, mac: "02:00:00:00:00:01" } };
  }
  async deletePod(name: string) {
    this.events.push(`delete ${name}`);
    this.live.delete(name);
  }
}

const closer = (rt: RecordingRuntime) => ({
  closeByPod: async (name: string) => {
    rt.events.push(`close-nsm ${name}`);
  },
});

let dir: string;
let db: DatabaseSync;
let rt: RecordingRuntime;
let svc: PodsService;
let api: HttpClient;

async function serve(): Promise<void> {
  svc = createPodsServer({ db, runtime: rt, nsm: closer(rt), nodes: ["k8s-1", "k8s-2"], prefix: "t" });
  const port = await listen(svc.server, 0);
  api = new HttpClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 });
}

const status = async (p: Promise<unknown>) => {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as HttpError).status;
  }
};
const message = async (p: Promise<unknown>) => {
  try {
    await p;
    return "";
  } catch (e) {
    return (e as HttpError).serverMessage;
  }
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-pods-"));
});
beforeEach(async () => {
  if (svc) await close(svc.server);
  db?.close();
  fs.rmSync(path.join(dir, "pods.db"), { force: true });
  db = new DatabaseSync(path.join(dir, "pods.db"));
  rt = new RecordingRuntime();
  await serve();
});
afterAll(async () => {
  await close(svc.server);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("POST /pods", () => {
  it("creates a running pod with a uid, its netns and eth0 on the pod network", async () => {
    const res = await api.post<Record<string, unknown>>("/pods", { name: "red-pod", node: "k8s-2" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "red-pod", node: "k8s-2", netns: "t-pod-red-pod", status: "Running", eth0: { ip: "10.244.3.2", prefixLength: 16 } });
    expect(res.body.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await api.get("/pods/red-pod")).body).toEqual(res.body);
  });

  it("spreads pods without a node over the k8s nodes in turn", async () => {
    const nodes: string[] = [];
    for (const name of ["a", "b", "c", "d"]) nodes.push((await api.post<{ node: string }>("/pods", { name })).body.node);
    expect(nodes).toEqual(["k8s-1", "k8s-2", "k8s-1", "k8s-2"]);
  });

  it("answers 409 for a name in use, and creates it only once even when asked twice at the same time", async () => {
    const results = await Promise.all([status(api.post("/pods", { name: "twin" })), status(api.post("/pods", { name: "twin" }))]);
    expect(results.sort()).toEqual([200, 409]);
    expect(rt.events.filter((e) => e.startsWith("create twin"))).toHaveLength(1);
  });

  it.each([
    [{ name: "Red_Pod" }, /DNS-1123/],
    [{ name: "-x" }, /DNS-1123/],
    [{ name: "x".repeat(64) }, /63/],
    [{ name: "p".repeat(60) }, /netns name/],
    [{ name: "../../etc" }, /DNS-1123/],
    [{ name: 7 }, /non-empty string/],
    [{}, /non-empty string/],
    [{ name: "ok", node: "compute-1" }, /one of the k8s nodes k8s-1, k8s-2/],
    [{ name: "ok", nodeName: "k8s-1" }, /unknown field\(s\) nodeName/],
    [[1, 2], /JSON object/],
  ])("answers 400 for %j", async (body, why) => {
    await expect(api.post("/pods", body)).rejects.toMatchObject({ status: 400 });
    expect(await message(api.post("/pods", body))).toMatch(why);
    expect(rt.events).toEqual([]);
  });

  it("answers 400 for malformed JSON", async () => {
    expect(await status(api.post("/pods", "{ not json", { headers: { "content-type": "application/json" } }))).toBe(400);
  });

  it("leaves nothing behind when the runtime fails", async () => {
    rt.failNext = true;
    expect(await status(api.post("/pods", { name: "doomed" }))).toBe(500);
    expect(await status(api.get("/pods/doomed"))).toBe(404);
    expect(rt.events).toEqual(["delete doomed"]);
    expect((await api.post("/pods", { name: "doomed" })).status).toBe(201);
  });
});

describe("GET /pods", () => {
  it("lists the pods, and 404s an unknown one", async () => {
    await api.post("/pods", { name: "one" });
    await api.post("/pods", { name: "two" });
    const list = (await api.get<{ pods: Array<{ name: string }> }>("/pods")).body.pods;
    expect(list.map((p) => p.name)).toEqual(["one", "two"]);
    expect(await status(api.get("/pods/three"))).toBe(404);
    expect(await status(api.get("/pods/Bad_Name"))).toBe(400);
  });
});

describe("DELETE /pods/<name>", () => {
  it("closes the pod's NSM connections before removing its netns", async () => {
    await api.post("/pods", { name: "red-pod" });
    rt.events = [];
    expect((await api.delete("/pods/red-pod")).status).toBe(200);
    expect(rt.events).toEqual(["close-nsm red-pod", "delete red-pod"]);
    expect(await status(api.get("/pods/red-pod"))).toBe(404);
  });

  it("answers 200 for a pod that is already gone (and still cleans up leftovers)", async () => {
    expect((await api.delete("/pods/ghost")).status).toBe(200);
    expect(rt.events).toEqual(["close-nsm ghost", "delete ghost"]);
  });
});

describe("persistence", () => {
  it("a restarted server knows its pods and re-creates their kernel side", async () => {
    await api.post("/pods", { name: "keeper", node: "k8s-2" });
    const before = (await api.get("/pods/keeper")).body;
    await close(svc.server);
    rt = new RecordingRuntime();
    await serve();
    await svc.restore();
    expect(rt.events).toEqual(["create keeper@k8s-2"]);
    expect((await api.get("/pods/keeper")).body).toEqual(before);
  });
});
