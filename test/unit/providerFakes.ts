// A fake of every API the provider talks to, each faked in its own module under fakes/ (Keystone,
// Nova, Neutron, Glance, TF, Kubernetes), all on one local server, each API under its own path
// prefix, and NSM's gRPC API on a loopback port of its own (HTTP/2). They answer as the lab does (shapes, statuses, error bodies; test/unit/fakes-lab.test.ts
// compares them with the lab's own services) with just enough behaviour for the clients and the
// providers' CRUD. Not the lab: no kernel, no persistence, state a test can change directly.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { close, listen } from "../../lib/http/server.ts";
import { useConfig } from "../../provider/impl/context.ts";
import { CIRROS, fakeGlance } from "./fakes/glance.ts";
import type { GlanceFakeState } from "./fakes/glance.ts";
import { CREDENTIALS, fakeKeystone, requireKeystoneToken } from "./fakes/keystone.ts";
import type { KeystoneFakeState } from "./fakes/keystone.ts";
import { mountApis } from "./fakes/mount.ts";
import { fakeNeutron, RED_NETWORK, RED_SUBNET } from "./fakes/neutron.ts";
import type { NeutronFakeState } from "./fakes/neutron.ts";
import { startFakeNsm } from "./fakes/nsm.ts";
import type { NsmFakeState } from "./fakes/nsm.ts";
import { fakeNova, NOVA_FLAVORS } from "./fakes/nova.ts";
import type { NovaFakeState } from "./fakes/nova.ts";
import { fakeKubernetes, KUBE_TOKEN } from "./fakes/kubernetes.ts";
import type { KubernetesFakeState } from "./fakes/kubernetes.ts";
import { fakeTf } from "./fakes/tf.ts";
import type { TfFakeState } from "./fakes/tf.ts";

export { PASSWORD } from "./fakes/keystone.ts";

/** Everything the fakes hold, for tests to look at and change. */
export type FakeState = KeystoneFakeState & NovaFakeState & NeutronFakeState & GlanceFakeState & TfFakeState & NsmFakeState & KubernetesFakeState;

export interface FakeCloud {
  url: string;
  /** NSM's gRPC API: tcp://127.0.0.1:<port>. */
  nsmTarget: string;
  state: FakeState;
  /** endpoints.json pointing at this fake, for TFMESH_ENDPOINTS. */
  endpointsFile: string;
  close(): Promise<void>;
}

/**
 * Registers the file's beforeAll and afterAll: a fake cloud that the providers reach through
 * TFMESH_ENDPOINTS (no stack config); afterwards it is closed and TFMESH_ENDPOINTS restored.
 * `cloud` is set once the beforeAll has run.
 */
export function fakeCloudFixture(): { cloud: FakeCloud } {
  const f = {} as { cloud: FakeCloud };
  const savedEnv = process.env.TFMESH_ENDPOINTS;
  beforeAll(async () => {
    f.cloud = await startFakeCloud();
    process.env.TFMESH_ENDPOINTS = f.cloud.endpointsFile;
    useConfig(undefined);
  });
  afterAll(async () => {
    await f.cloud?.close();
    if (savedEnv === undefined) delete process.env.TFMESH_ENDPOINTS;
    else process.env.TFMESH_ENDPOINTS = savedEnv;
  });
  return f;
}

export async function startFakeCloud(): Promise<FakeCloud> {
  const state: FakeState = {
    authCount: 0,
    validTokens: new Set(),
    novaHeaders: [],
    servers: new Map(),
    flavors: NOVA_FLAVORS(),
    buildPolls: 2,
    networks: [{ ...RED_NETWORK }],
    subnets: [{ ...RED_SUBNET }],
    ports: [],
    images: [{ ...CIRROS }],
    vns: new Map(),
    services: new Map(),
    connections: new Map(),
    requests: [],
    lostInterfaces: new Set(),
    detachedInterfaces: new Set(),
    kubePods: new Map(),
  };
  let url = "";
  const at = (prefix: string) => () => `${url}${prefix}`;
  const requireToken = requireKeystoneToken(state);
  const validToken = (t: string | undefined) => t !== undefined && state.validTokens.has(t);
  const server = mountApis([
    {
      prefix: "/identity",
      server: fakeKeystone(state, () => [
        { type: "compute", name: "nova", url: `${url}/compute/v2.1` },
        { type: "network", name: "neutron", url: `${url}/network` },
        { type: "image", name: "glance", url: `${url}/image` },
        { type: "identity", name: "keystone", url: `${url}/identity/v3` },
      ]),
    },
    { prefix: "/compute", server: fakeNova(state, { requireToken, baseUrl: at("/compute") }) },
    { prefix: "/network", server: fakeNeutron(state, requireToken) },
    { prefix: "/image", server: fakeGlance(state, requireToken) },
    { prefix: "/tf", server: fakeTf(state, { validToken, baseUrl: at("/tf") }) },
    { prefix: "/kube", server: fakeKubernetes(state) },
  ]);
  const port = await listen(server, 0);
  url = `http://127.0.0.1:${port}`;
  const nsm = await startFakeNsm(state);
  const dir = await mkdtemp(join(tmpdir(), "tfmesh-fake-"));
  const endpointsFile = join(dir, "endpoints.json");
  const kubeconfig = join(dir, "kubeconfig.json");
  // The lab's kubeconfig shape: JSON, the admin token inline (plain http here: the fake has no TLS).
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "fake",
      clusters: [{ name: "fake", cluster: { server: `${url}/kube` } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "admin" } }],
      users: [{ name: "admin", user: { token: KUBE_TOKEN } }],
    }),
  );
  await writeFile(
    endpointsFile,
    JSON.stringify({ tf: `${url}/tf`, keystone: `${url}/identity/v3`, nsmGrpc: nsm.target, kubernetes: { server: `${url}/kube`, kubeconfig }, agents: {}, credentials: CREDENTIALS }),
  );
  return {
    url,
    nsmTarget: nsm.target,
    state,
    endpointsFile,
    close: async () => {
      await Promise.all([close(server), nsm.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** endpoints.json whose every URL refuses connections (a stopped lab). */
export async function unreachableEndpoints(): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tfmesh-down-"));
  const file = join(dir, "endpoints.json");
  const dead = "http://127.0.0.1:9";
  await writeFile(
    file,
    JSON.stringify({ tf: dead, keystone: `${dead}/v3`, nsmGrpc: "tcp://127.0.0.1:9", agents: {}, credentials: { username: "admin", password: "x", project: "admin", domain: "Default" } }),
  );
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
