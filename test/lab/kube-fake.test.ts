// The unit tests' fake Kubernetes API (test/unit/fakes/kubernetes.ts) answers the calls the provider
// makes as the lab's real kube-apiserver does: a running pod with the fields PodAttachment reads (of
// the same kind, at the same place), a missing pod's 404 and a wrong token's 401 as v1 Status
// objects with the same reason, code and message, and a namespace's PodList.
import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../lib/http/client.ts";
import type { HttpResponse } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { NETNS_ANNOTATION, resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";
import { loadKubeconfig } from "../../wire/kubeconfig.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { KUBE_TOKEN, fakeKubernetes, putPod } from "../unit/fakes/kubernetes.ts";
import type { KubernetesFakeState } from "../unit/fakes/kubernetes.ts";

let lab: TestLab;
let fakeServer: http.Server;
let real: { authed: HttpClient; stale: HttpClient };
let fake: { authed: HttpClient; stale: HttpClient };
const state: KubernetesFakeState = { kubePods: new Map() };

const ANY = { expect: [200, 401, 403, 404] };

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1"] });
  const k = loadKubeconfig(lab.endpoints.kubernetes!.kubeconfig).options;
  const client = (token: string) => new HttpClient({ baseUrl: k.server, ca: k.ca!, retries: 0, headers: () => ({ authorization: `Bearer ${token}` }) });
  // A stale kubeconfig's token (a request with none is system:anonymous, which RBAC forbids: 403).
  real = { authed: client(k.token!), stale: client("not-a-valid-token") };
  fakeServer = fakeKubernetes(state);
  const port = await listen(fakeServer, 0);
  const base = `http://127.0.0.1:${port}`;
  fake = {
    authed: new HttpClient({ baseUrl: base, retries: 0, headers: () => ({ authorization: `Bearer ${KUBE_TOKEN}` }) }),
    stale: new HttpClient({ baseUrl: base, retries: 0, headers: () => ({ authorization: "Bearer not-a-valid-token" }) }),
  };
  await lab.createPod("app", { node: "k8s-1" });
  putPod(state, "app", { node: "k8s-1" });
}, LAB_TIMEOUT);

afterAll(async () => {
  if (fakeServer) await close(fakeServer);
  await lab?.stop();
}, LAB_TIMEOUT);

/** What PodAttachment reads of a pod (provider/impl/kubePod.ts), with the kind of each value. */
function readByProvider(p: Pod) {
  const ready = p.status?.conditions?.find((c) => c.type === "Ready");
  return {
    name: p.metadata.name,
    namespace: p.metadata.namespace,
    uid: typeof p.metadata.uid,
    deletionTimestamp: p.metadata.deletionTimestamp,
    netns: typeof p.metadata.annotations?.[NETNS_ANNOTATION],
    nodeName: p.spec.nodeName,
    phase: p.status?.phase,
    ready: ready?.status,
  };
}

const statusOf = (r: HttpResponse<unknown>) => {
  const b = r.body as { kind?: string; apiVersion?: string; status?: string; reason?: string; code?: number; message?: string };
  return { http: r.status, kind: b.kind, apiVersion: b.apiVersion, status: b.status, reason: b.reason, code: b.code, message: b.message };
};

describe("the fake Kubernetes API, next to the lab's kube-apiserver", () => {
  it("serves a running pod with what the provider reads, alike", async () => {
    const path = resourcePath("v1", "pods", "default", "app");
    const [r, f] = await Promise.all([real.authed.get<Pod>(path), fake.authed.get<Pod>(path)]);
    expect(f.status).toBe(r.status);
    expect(f.headers["content-type"]).toBe(r.headers["content-type"]);
    expect(readByProvider(f.body)).toEqual(readByProvider(r.body));
    expect(readByProvider(r.body)).toMatchObject({ name: "app", namespace: "default", uid: "string", netns: "string", nodeName: "k8s-1", phase: "Running", ready: "True" });
  });

  it("answers a missing pod with the same 404 Status", async () => {
    const path = resourcePath("v1", "pods", "default", "nope");
    const [r, f] = await Promise.all([real.authed.get(path, ANY), fake.authed.get(path, ANY)]);
    expect(statusOf(f)).toEqual(statusOf(r));
    expect(statusOf(r)).toMatchObject({ http: 404, kind: "Status", reason: "NotFound", message: 'pods "nope" not found' });
  });

  it("answers a wrong token with the same 401 Status", async () => {
    const path = resourcePath("v1", "pods", "default", "app");
    const [r, f] = await Promise.all([real.stale.get(path, ANY), fake.stale.get(path, ANY)]);
    expect(statusOf(f)).toEqual(statusOf(r));
    expect(statusOf(r)).toMatchObject({ http: 401, reason: "Unauthorized" });
  });

  it("lists a namespace's pods as a PodList", async () => {
    const path = resourcePath("v1", "pods", "default");
    const [r, f] = await Promise.all([real.authed.get<{ kind: string; items: Pod[] }>(path), fake.authed.get<{ kind: string; items: Pod[] }>(path)]);
    expect({ kind: f.body.kind, names: f.body.items.map((p) => p.metadata.name) }).toEqual({ kind: r.body.kind, names: r.body.items.map((p) => p.metadata.name) });
  });
});
