// Where the provider finds endpoints and credentials: stack config, then environment, then the
// running lab's endpoints.json, then the lab's default ports.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endpointsFilePath, resolveSettings } from "../../wire/settings.ts";

let dir: string;
let labFile: string;

const lab = {
  instance: "default",
  prefix: "tfm",
  tf: "http://127.0.0.1:18082",
  keystone: "http://127.0.0.1:15000/v3",
  nsm: "http://127.0.0.1:15001",
  nsmGrpc: "tcp://127.0.0.1:15003",
  lab: "http://127.0.0.1:15002",
  kubernetes: { server: "https://127.0.0.1:16443", kubeconfig: "/lab/kubeconfig.json" },
  agents: { "k8s-1": "http://127.0.0.1:19093" },
  credentials: { username: "admin", password: "lab-secret", project: "admin", domain: "Default" },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tfmesh-config-"));
  await mkdir(join(dir, "lab", "default"), { recursive: true });
  labFile = join(dir, "lab", "default", "endpoints.json");
  await writeFile(labFile, JSON.stringify(lab));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const configOf = (values: Record<string, string>) => (key: string) => values[key];

describe("resolveSettings", () => {
  it("reads the running lab's endpoints.json under TFMESH_HOME when nothing else is set", () => {
    const s = resolveSettings({ env: { TFMESH_HOME: dir } });
    expect(s.tfApiUrl).toBe(lab.tf);
    expect(s.nsmTarget).toBe(lab.nsmGrpc);
    expect(s.kubernetes).toEqual({ kubeconfig: lab.kubernetes.kubeconfig, origin: `kubernetes.kubeconfig in ${labFile}` });
    expect(s.agents).toEqual(lab.agents);
    expect(s.openstack).toMatchObject({ authUrl: lab.keystone, userName: "admin", password: "lab-secret", tenantName: "admin", userDomainName: "Default" });
    expect(s.endpointsFile).toBe(labFile);
  });

  it("TFMESH_ENDPOINTS names the file directly (a test lab instance)", () => {
    const s = resolveSettings({ env: { TFMESH_HOME: "/nonexistent", TFMESH_ENDPOINTS: labFile } });
    expect(s.tfApiUrl).toBe(lab.tf);
  });

  it("environment variables win over the lab file", () => {
    const s = resolveSettings({
      env: { TFMESH_HOME: dir, OS_AUTH_URL: "https://keystone.example:5000/v3", OS_PASSWORD: "env-secret", OS_PROJECT_NAME: "demo", TFMESH_TF_API_URL: "http://tf.example:8082" },
    });
    expect(s.openstack.authUrl).toBe("https://keystone.example:5000/v3");
    expect(s.openstack.password).toBe("env-secret");
    expect(s.openstack.tenantName).toBe("demo");
    expect(s.tfApiUrl).toBe("http://tf.example:8082");
    expect(s.nsmTarget).toBe(lab.nsmGrpc);
  });

  it("stack config (openstack:* and tfmesh:*) wins over the environment", () => {
    const s = resolveSettings({
      env: { TFMESH_HOME: dir, OS_PASSWORD: "env-secret", TFMESH_NSM_CONNECT_TO: "tcp://env-nsm:5003" },
      config: configOf({
        "openstack:password": "config-secret",
        "openstack:userName": "alice",
        "openstack:region": "RegionTwo",
        "tfmesh:nsmConnectTo": "unix:///var/lib/networkservicemesh/nsm.io.sock",
        "tfmesh:agents": JSON.stringify({ "node-a": "http://agent-a:9091" }),
      }),
    });
    expect(s.openstack.password).toBe("config-secret");
    expect(s.openstack.userName).toBe("alice");
    expect(s.openstack.region).toBe("RegionTwo");
    expect(s.nsmTarget).toBe("unix:///var/lib/networkservicemesh/nsm.io.sock");
    expect(s.agents).toEqual({ "node-a": "http://agent-a:9091" });
  });

  it("falls back to the lab's default ports, without a password, when no lab file exists", () => {
    const s = resolveSettings({ env: { TFMESH_HOME: join(dir, "empty") } });
    expect(s.tfApiUrl).toBe("http://127.0.0.1:8082");
    expect(s.openstack.authUrl).toBe("http://127.0.0.1:5000/v3");
    expect(s.openstack.password).toBeUndefined();
    expect(s.nsmTarget).toBe("tcp://127.0.0.1:5003");
    expect(s.endpointsFile).toBeUndefined();
    expect(s.kubernetes).toBeUndefined();
  });

  it("finds Kubernetes as @pulumi/kubernetes users expect: kubernetes:kubeconfig, then KUBECONFIG's first existing file, then the lab's", async () => {
    const real = join(dir, "real-kubeconfig");
    await writeFile(real, "current-context: x\n");
    const env = { TFMESH_HOME: dir, KUBECONFIG: `${join(dir, "missing")}:${real}` };
    expect(resolveSettings({ env }).kubernetes).toEqual({ kubeconfig: real, origin: "KUBECONFIG" });
    const content = "apiVersion: v1\nkind: Config\n";
    expect(resolveSettings({ env, config: configOf({ "kubernetes:kubeconfig": content, "kubernetes:context": "prod" }) }).kubernetes).toEqual({
      kubeconfig: content,
      context: "prod",
      origin: "stack config kubernetes:kubeconfig",
    });
    // A KUBECONFIG naming no existing file leaves the lab's.
    expect(resolveSettings({ env: { TFMESH_HOME: dir, KUBECONFIG: join(dir, "missing") } }).kubernetes?.kubeconfig).toBe(lab.kubernetes.kubeconfig);
  });

  it("takes NSM's target from the environment as NSM names it (TFMESH_NSM_CONNECT_TO, else NSM_CONNECT_TO)", () => {
    expect(resolveSettings({ env: { TFMESH_HOME: dir, NSM_CONNECT_TO: "unix:///run/nsm.sock" } }).nsmTarget).toBe("unix:///run/nsm.sock");
    expect(resolveSettings({ env: { TFMESH_HOME: dir, NSM_CONNECT_TO: "unix:///run/nsm.sock", TFMESH_NSM_CONNECT_TO: "tcp://10.0.0.1:5001" } }).nsmTarget).toBe("tcp://10.0.0.1:5001");
  });

  it("rejects an NSM target that is not tcp://host:port or unix:///path, naming where it came from", () => {
    for (const bad of ["http://127.0.0.1:5001", "tcp://127.0.0.1", "tcp://h:1/x", "unix:relative.sock", "127.0.0.1:5003"]) {
      expect(() => resolveSettings({ env: { TFMESH_HOME: dir }, config: configOf({ "tfmesh:nsmConnectTo": bad }) }), bad).toThrow(
        new RegExp(`^tfmesh:nsmConnectTo must .*got "${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"`),
      );
    }
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir, TFMESH_NSM_CONNECT_TO: "nope" } })).toThrow(/^TFMESH_NSM_CONNECT_TO must be tcp:\/\/host:port or unix:\/\/\/path/);
  });

  it("refuses the JSON API's old keys, saying what to set instead", () => {
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir }, config: configOf({ "tfmesh:nsmUrl": "http://127.0.0.1:5001" }) })).toThrow(
      /^tfmesh:nsmUrl is no longer read: .*set tfmesh:nsmConnectTo to the NSMgr's gRPC target \(tcp:\/\/host:port or unix:\/\/\/path/,
    );
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir, TFMESH_NSM_URL: "http://127.0.0.1:5001" } })).toThrow(/^TFMESH_NSM_URL is no longer read: .*set TFMESH_NSM_CONNECT_TO/);
  });

  it("refuses the pod API's old keys, saying pods come from Kubernetes and where the kubeconfig is looked for", () => {
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir }, config: configOf({ "tfmesh:podsUrl": "http://127.0.0.1:5002" }) })).toThrow(
      /^tfmesh:podsUrl is no longer read: remove it\. pods are Kubernetes pods now .*kubernetes:kubeconfig, KUBECONFIG, or the lab's kubeconfig/,
    );
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir, TFMESH_PODS_URL: "http://127.0.0.1:5002" } })).toThrow(/^TFMESH_PODS_URL is no longer read/);
  });

  it("rejects a malformed agents map naming the key", () => {
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir }, config: configOf({ "tfmesh:agents": "[1,2]" }) })).toThrow(/tfmesh:agents/);
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir, TFMESH_AGENTS: "nope" } })).toThrow(/TFMESH_AGENTS/);
  });

  it("reports a corrupt endpoints.json with its path", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{ not json");
    expect(() => resolveSettings({ env: { TFMESH_ENDPOINTS: bad } })).toThrow(bad);
  });

  it("picks the instance's folder from tfmesh:labInstance", () => {
    expect(endpointsFilePath({ TFMESH_HOME: "/h" }, configOf({ "tfmesh:labInstance": "ci" }))).toBe("/h/lab/ci/endpoints.json");
  });
});
