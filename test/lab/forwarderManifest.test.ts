// The TungstenForwarder component's DaemonSet against the program it runs (no root, no lab: the
// engine is mocked): every variable it sets is one `tfmesh forwarder` reads, and the environment a
// kubelet would give the container (the lab's, lab/kube/containerEnv.ts: field refs and $(VAR) expanded, secrets read) is a valid
// configuration whose listen socket, health port and probes agree.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { TungstenForwarder } from "../../components/k8s/tungstenForwarder.ts";
import { FORWARDER_ENV, forwarderConfig } from "../../nsm/forwarderd/config.ts";
import { forwarderManifest } from "../../nsm/forwarderd/manifest.ts";
import type { EnvVar } from "../../nsm/forwarderd/manifest.ts";
import { containerEnv, expand } from "../../lab/kube/containerEnv.ts";
import { runsAsProcess } from "../../lab/kube/processPods.ts";
import type { KubernetesClient, Pod } from "../../wire/kubernetes.ts";

const registered: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: () => ({}),
    },
    "tfmesh",
    "test",
    true,
  );
});

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

/**
 * The container's environment as the lab's kubelet builds it (lab/kube/containerEnv.ts) for a pod
 * on node "node-a", with the secret's keys in `secrets` (any secret name).
 */
function kubeletEnv(env: EnvVar[], secrets: Record<string, string>): Promise<Record<string, string>> {
  const data = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  const api = { get: async (path: string) => (path.includes("/secrets/") ? { metadata: { name: "s" }, data } : undefined) } as unknown as KubernetesClient;
  const pod = { metadata: { name: "fwd-x", namespace: "nsm-system" }, spec: { nodeName: "node-a", containers: [] } } as Pod;
  return containerEnv(api, pod, env, { hostIP: "172.31.0.10", podIP: "172.31.0.10" });
}

async function container(args: ConstructorParameters<typeof TungstenForwarder>[1], name: string) {
  const f = new TungstenForwarder(name, args);
  await value(f.daemonSet.id);
  const ds = registered.find((r) => r.type === "kubernetes:apps/v1:DaemonSet" && r.name === name)!.inputs;
  return { pod: ds.spec.template.spec, c: ds.spec.template.spec.containers[0] };
}

describe("TungstenForwarder's DaemonSet and tfmesh forwarder", () => {
  it("sets only variables the program reads, and they make a valid configuration", async () => {
    const { pod, c } = await container({ image: "registry.example/tfmesh-forwarder:0.3.0", tfApiUrl: "http://tf-config.tf:8082", tfAuthSecretName: "tf-auth" }, "fwd");
    const names = (c.env as EnvVar[]).map((v) => v.name);
    expect(names.filter((n) => !(FORWARDER_ENV as readonly string[]).includes(n))).toEqual([]);
    const config = forwarderConfig(await kubeletEnv(c.env, { token: "t0k3n" }));
    expect(config).toMatchObject({
      name: "tungsten@node-a",
      type: "tungsten",
      node: "node-a",
      connectTo: "unix:///var/lib/networkservicemesh/nsm.io.sock",
      listenOn: "unix:///var/lib/networkservicemesh/tfmesh-fwd.sock",
      labels: { type: "tungsten", node: "node-a" },
      tf: { url: "http://tf-config.tf:8082", token: "t0k3n" },
      agentUrl: "http://127.0.0.1:9091",
      stateDir: "/var/lib/networkservicemesh/tfmesh/fwd",
      healthListenOn: "tcp://0.0.0.0:5801",
      spiffeEndpoint: "unix:///run/spire/sockets/agent.sock",
    });
    expect(c.readinessProbe.grpc).toEqual({ port: 5801 });
    expect(c.livenessProbe.grpc).toEqual({ port: 5801 });
    expect(pod).toMatchObject({ hostNetwork: true, hostPID: true });
    expect(c.securityContext).toEqual({ privileged: true });
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath).sort()).toEqual(["/run/spire/sockets", "/var/lib/networkservicemesh", "/var/run/netns"]);
    expect(c.volumeMounts.find((m: { name: string }) => m.name === "spire-agent-socket")).toMatchObject({ readOnly: true });
  });

  it("takes TF's Keystone credentials from the secret's password, and another health port", async () => {
    const { c } = await container(
      { image: "x", tfApiUrl: "http://tf:8082", tfAuthSecretName: "tf-auth", tfKeystone: { authUrl: "http://keystone:5000/v3", username: "tf", project: "admin" }, healthPort: 6000 },
      "fwd-ks",
    );
    const config = forwarderConfig(await kubeletEnv(c.env, { password: "s3cret" }));
    expect(config.tf).toEqual({ url: "http://tf:8082", keystone: { authUrl: "http://keystone:5000/v3", username: "tf", password: "s3cret", project: "admin", domain: "Default" } });
    expect(config.healthListenOn).toBe("tcp://0.0.0.0:6000");
    expect(c.livenessProbe.grpc).toEqual({ port: 6000 });
  });

  it("builds the kernel forwarder and the lab's variant (its own sockets, extra variables) from the same builder", async () => {
    const { daemonSet, serviceAccount } = forwarderManifest({
      name: "kernel-forwarder",
      type: "kernel",
      image: "tfmesh/forwarder:lab",
      socketDir: "/lab/sock",
      listenOn: "unix:///lab/sock/$(NSM_NAME).sock",
      stateDir: "/lab/forwarders/$(NSM_NAME)",
      extraEnv: [{ name: "TFMESH_NODE_NETNS", value: "lab-$(NODE_NAME)" }],
    });
    const c = daemonSet.spec.template.spec.containers[0];
    expect(daemonSet.spec.template.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
    expect(daemonSet.metadata.namespace).toBe("nsm-system");
    const config = forwarderConfig(await kubeletEnv(c.env, {}));
    expect(config).toMatchObject({
      name: "kernel@node-a",
      type: "kernel",
      connectTo: "unix:///lab/sock/nsm.io.sock",
      listenOn: "unix:///lab/sock/kernel@node-a.sock",
      stateDir: "/lab/forwarders/kernel@node-a",
      nodeNetns: "lab-node-a",
    });
    expect(config.tf).toBeUndefined();
    expect(() => forwarderManifest({ name: "f", type: "kernel", image: "x", extraEnv: [{ name: "NSM_TYPO", value: "1" }] })).toThrow(/extraEnv: NSM_TYPO/);
    expect(() => forwarderManifest({ name: "f", type: "tungsten", image: "x" })).toThrow(/tfApiUrl/);
    // A required secret that is missing stops the kubelet, naming the variable.
    const ks = forwarderManifest({ name: "f", type: "tungsten", image: "x", tfApiUrl: "http://tf:8082", tfAuthSecretName: "tf-auth", tfKeystone: { authUrl: "http://ks:5000/v3", username: "u", project: "p" } });
    await expect(kubeletEnv(ks.daemonSet.spec.template.spec.containers[0].env, {})).rejects.toThrow(/env OS_PASSWORD: secret nsm-system\/tf-auth has no key "password"/);
  });

  it("is run by the lab's kubelet for any tag of tfmesh/forwarder only, with $(VAR) expanded as a kubelet does", () => {
    for (const image of ["tfmesh/forwarder", "tfmesh/forwarder:0.2.0", "docker.io/tfmesh/forwarder:lab", "tfmesh/forwarder@sha256:abc"]) expect(runsAsProcess(image), image).toBe(true);
    for (const image of ["nginx", "tfmesh/forwarder-x:1", "evil/tfmesh/forwarder", undefined]) expect(runsAsProcess(image), String(image)).toBe(false);
    expect(expand("$(A)-$(B)-$$(A)", { A: "a" })).toBe("a-$(B)-$(A)");
  });

  it("refuses a configuration missing what it needs, naming the variable", () => {
    const base = { NSM_NAME: "tungsten@n", NODE_NAME: "n", NSM_LABELS: "type:tungsten", NSM_CONNECT_TO: "unix:///s", NSM_LISTEN_ON: "unix:///l", TF_API_URL: "http://tf:8082", SPIFFE_ENDPOINT_SOCKET: "unix:///run/spire/sockets/agent.sock" };
    expect(() => forwarderConfig({ ...base, SPIFFE_ENDPOINT_SOCKET: "" })).toThrow(/SPIFFE_ENDPOINT_SOCKET is required/);
    expect(() => forwarderConfig({ ...base, SPIFFE_ENDPOINT_SOCKET: "tcp://127.0.0.1:8081" })).toThrow(/SPIFFE_ENDPOINT_SOCKET/);
    expect(() => forwarderConfig({ ...base, NSM_LABELS: "p2p:true" })).toThrow(/NSM_LABELS/);
    expect(() => forwarderConfig({ ...base, TF_API_URL: "" })).toThrow(/TF_API_URL/);
    expect(() => forwarderConfig({ ...base, NSM_CONNECT_TO: "ftp://x" })).toThrow(/NSM_CONNECT_TO/);
    expect(() => forwarderConfig({ ...base, NSM_MAX_TOKEN_LIFETIME: "soon" })).toThrow(/NSM_MAX_TOKEN_LIFETIME/);
    expect(forwarderConfig({ ...base, NSM_MAX_TOKEN_LIFETIME: "90s" }).lifetimeMs).toBe(90_000);
  });
});
