// Component wiring with the engine mocked: which children each component creates, under which
// parent, and how outputs of one child feed the inputs of the next.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttachedPod } from "../../components/attachedPod.ts";
import { kubernetesProvider } from "../../components/kubernetesProvider.ts";
import { nsmAnnotation } from "../../components/k8s/annotation.ts";
import { NetworkServiceCr } from "../../components/k8s/networkServiceCr.ts";
import { NsmWorkload } from "../../components/k8s/nsmWorkload.ts";
import { TungstenForwarder } from "../../components/k8s/tungstenForwarder.ts";
import { ServerOnNetwork } from "../../components/openstack/serverOnNetwork.ts";
import { TenantNetwork } from "../../components/tenantNetwork.ts";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
const registered: Registered[] = [];

// Outputs the real providers would compute, so wiring between children can be observed.
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case "pulumi-nodejs:dynamic/tf:VirtualNetwork":
      return { uuid: `uuid-${inputs.name}`, fqName: `default-domain:admin:${inputs.name}` };
    case "kubernetes:core/v1:Pod":
      return { spec: { nodeName: "k8s-2", ...inputs.spec }, status: { phase: "Running", podIP: "10.244.1.5" } };
    case "pulumi-nodejs:dynamic/nsm:PodAttachment":
      return { ip: inputs.networkService === "red" ? "10.1.1.250" : "10.2.2.250", prefixLength: 24, mac: `02:aa:00:00:00:0${inputs.interfaceName.slice(-1)}` };
    case "openstack:networking/port:Port":
      return { allFixedIps: ["10.1.1.7"], macAddress: "fa:16:3e:00:00:07" };
    default:
      return { name };
  }
}

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));
/** Resolves once the engine (mock) has registered the resource. */
const registeredResource = (r: pulumi.CustomResource) => value(r.id);
const find = (type: string, name: string) => {
  const r = registered.find((x) => x.type === type && x.name === name);
  if (!r) throw new Error(`no ${type} named ${name}; registered: ${registered.map((x) => `${x.type}/${x.name}`).join(", ")}`);
  return r;
};

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...computed(args.type, args.name, args.inputs) } };
      },
      call: () => ({}),
    },
    "tfmesh",
    "test",
    true,
  );
});

describe("TenantNetwork", () => {
  it("creates the VN and a tungsten network service bound to the VN's fq_name, both as its children", async () => {
    const red = new TenantNetwork("red", { subnets: [{ cidr: "10.1.1.0/24" }] });
    await Promise.all([red.network, red.service].map(registeredResource));
    expect(await value(red.fqName)).toBe("default-domain:admin:red");
    expect(await value(red.serviceName)).toBe("red");
    expect(await value(red.networkId)).toBe("uuid-red");
    expect(find("pulumi-nodejs:dynamic/tf:VirtualNetwork", "red").inputs).toMatchObject({ name: "red", subnets: [{ cidr: "10.1.1.0/24" }] });
    expect(find("pulumi-nodejs:dynamic/nsm:NetworkService", "red").inputs).toMatchObject({ name: "red", forwarder: "tungsten", virtualNetwork: "default-domain:admin:red" });
    expect(await value(red.network.urn)).toContain("tfmesh:index:TenantNetwork$pulumi-nodejs:dynamic/tf:VirtualNetwork::red");
    expect(await value(red.service.urn)).toContain("tfmesh:index:TenantNetwork$pulumi-nodejs:dynamic/nsm:NetworkService::red");
  });
});

describe("kubernetesProvider", () => {
  it("finds the kubeconfig as the tfmesh provider does: the lab's, unless KUBECONFIG or kubernetes:kubeconfig names another; one provider per name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tfmesh-kprov-"));
    const labKubeconfig = join(dir, "lab-kubeconfig.json");
    writeFileSync(join(dir, "endpoints.json"), JSON.stringify({ kubernetes: { server: "https://127.0.0.1:6443", kubeconfig: labKubeconfig } }));
    const real = join(dir, "real-kubeconfig");
    writeFileSync(real, "current-context: prod\n");
    const saved = { endpoints: process.env.TFMESH_ENDPOINTS, kubeconfig: process.env.KUBECONFIG };
    try {
      process.env.TFMESH_ENDPOINTS = join(dir, "endpoints.json");
      delete process.env.KUBECONFIG;
      const lab = kubernetesProvider("k-lab");
      expect(kubernetesProvider("k-lab")).toBe(lab);
      await registeredResource(lab);
      expect(find("pulumi:providers:kubernetes", "k-lab").inputs.kubeconfig).toBe(labKubeconfig);
      process.env.KUBECONFIG = `${join(dir, "missing")}:${real}`;
      await registeredResource(kubernetesProvider("k-real"));
      expect(find("pulumi:providers:kubernetes", "k-real").inputs.kubeconfig).toBe(real);
      process.env.TFMESH_ENDPOINTS = join(dir, "none.json");
      delete process.env.KUBECONFIG;
      expect(() => kubernetesProvider("k-none")).toThrow(/no Kubernetes cluster for the program's pods: set stack config kubernetes:kubeconfig .*KUBECONFIG.*start the lab with Kubernetes/);
    } finally {
      for (const [k, v] of [["TFMESH_ENDPOINTS", saved.endpoints], ["KUBECONFIG", saved.kubeconfig]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe("AttachedPod", () => {
  it("creates a Kubernetes pod (busybox sleeping, on the node asked for) and one attachment per service naming it, nsm-1, nsm-2 in order, and collects the interfaces", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tfmesh-apod-"));
    writeFileSync(join(dir, "kubeconfig"), "current-context: x\n");
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = join(dir, "kubeconfig");
    let both: AttachedPod;
    try {
      both = new AttachedPod("both-pod", { node: "k8s-2", namespace: "apps", networks: [{ service: "red" }, { service: "blue", labels: { app: "db" } }] });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
    await Promise.all([both.pod, ...both.attachments].map(registeredResource));
    const pod = find("kubernetes:core/v1:Pod", "both-pod").inputs;
    expect(pod.metadata).toMatchObject({ name: "both-pod", namespace: "apps" });
    expect(pod.spec).toMatchObject({ nodeName: "k8s-2", containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "infinity"] }] });
    expect(find("pulumi:providers:kubernetes", "lab-kubernetes").inputs.kubeconfig).toBe(join(dir, "kubeconfig"));
    expect(find("pulumi-nodejs:dynamic/nsm:PodAttachment", "both-pod-nsm-1").inputs).toMatchObject({ pod: "both-pod", namespace: "apps", networkService: "red", interfaceName: "nsm-1" });
    expect(find("pulumi-nodejs:dynamic/nsm:PodAttachment", "both-pod-nsm-2").inputs).toMatchObject({ networkService: "blue", interfaceName: "nsm-2", labels: { app: "db" } });
    expect(await value(both.interfaces)).toEqual([
      { service: "red", interfaceName: "nsm-1", ip: "10.1.1.250", prefixLength: 24, mac: "02:aa:00:00:00:01" },
      { service: "blue", interfaceName: "nsm-2", ip: "10.2.2.250", prefixLength: 24, mac: "02:aa:00:00:00:02" },
    ]);
    expect(await value(both.podIp)).toBe("10.244.1.5");
    expect(await value(both.node)).toBe("k8s-2");
    expect(await value(both.attachments[0]!.urn)).toContain("tfmesh:index:AttachedPod$pulumi-nodejs:dynamic/nsm:PodAttachment");
    expect(await value(both.pod.urn)).toContain("tfmesh:index:AttachedPod$kubernetes:core/v1:Pod::both-pod");
  });

  it("without a node leaves the placement to the scheduler", async () => {
    const provider = kubernetesProvider("k-lab");
    const free = new AttachedPod("free-pod", { networks: [{ service: "red" }], provider });
    await registeredResource(free.pod);
    const pod = find("kubernetes:core/v1:Pod", "free-pod").inputs;
    expect(pod.spec.nodeName).toBeUndefined();
    expect(pod.metadata.namespace).toBe("default");
  });
});

describe("nsmAnnotation", () => {
  it("writes the v1 kernel:// form, comma-separated, with optional name and labels", () => {
    expect(nsmAnnotation([{ service: "red", interfaceName: "nsm-1" }])).toBe("kernel://red/nsm-1");
    expect(nsmAnnotation([{ service: "red", interfaceName: "nsm-1" }, { service: "blue" }])).toBe("kernel://red/nsm-1,kernel://blue");
    expect(nsmAnnotation([{ service: "red", labels: { app: "web", tier: "a b" } }])).toBe("kernel://red?app=web&tier=a%20b");
  });
  it("refuses names the kernel or NSM would reject, naming the entry", () => {
    expect(() => nsmAnnotation([{ service: "red" }, { service: "blue", interfaceName: "much-too-long-name" }])).toThrow(/networks\[1\]\.interfaceName: .*at most 15/);
    expect(() => nsmAnnotation([{ service: "Red" }])).toThrow(/networks\[0\]\.service/);
    expect(() => nsmAnnotation([])).toThrow(/at least one/);
  });
});

describe("Kubernetes pieces", () => {
  it("NsmWorkload annotates the pod template with one kernel:// entry per network", async () => {
    const w = new NsmWorkload("web", { image: "alpine:3", networks: [{ service: "red" }, { service: "blue", interfaceName: "blue0" }] });
    expect(await value(w.annotation)).toBe("kernel://red/nsm-1,kernel://blue/blue0");
    await registeredResource(w.deployment);
    const dep = find("kubernetes:apps/v1:Deployment", "web").inputs;
    expect(dep.spec.template.metadata.annotations).toEqual({ "networkservicemesh.io": "kernel://red/nsm-1,kernel://blue/blue0" });
    expect(dep.spec.selector.matchLabels).toEqual(dep.spec.template.metadata.labels);
  });

  it("NetworkServiceCr is a networkservicemesh.io/v1 NetworkService bound to the TF network and forwarder", async () => {
    const c = new NetworkServiceCr("red-cr", { name: "red", virtualNetwork: "default-domain:admin:red" });
    await registeredResource(c.resource);
    const cr = find("kubernetes:networkservicemesh.io/v1:NetworkService", "red-cr").inputs;
    expect(cr).toMatchObject({
      apiVersion: "networkservicemesh.io/v1",
      kind: "NetworkService",
      metadata: { name: "red", namespace: "nsm-system", annotations: { "tfmesh.io/virtual-network": "default-domain:admin:red", "tfmesh.io/forwarder": "tungsten" } },
      spec: { payload: "ETHERNET" },
    });
  });

  it("TungstenForwarder runs privileged on the host network on every node with the host's netns folder", async () => {
    const f = new TungstenForwarder("tf-fwd", { image: "registry.example/tfmesh-forwarder:1", tfApiUrl: "http://tf:8082" });
    await Promise.all([f.daemonSet, f.serviceAccount].map(registeredResource));
    const ds = find("kubernetes:apps/v1:DaemonSet", "tf-fwd").inputs;
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.containers[0].securityContext).toEqual({ privileged: true });
    expect(pod.containers[0].env).toContainEqual({ name: "TF_API_URL", value: "http://tf:8082" });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: "netns", mountPath: "/var/run/netns", mountPropagation: "HostToContainer" });
    expect(pod.volumes).toContainEqual({ name: "netns", hostPath: { path: "/var/run/netns", type: "Directory" } });
    expect(find("kubernetes:core/v1:ServiceAccount", "tf-fwd").inputs.metadata).toEqual({ namespace: "nsm-system" });
  });
});

describe("ServerOnNetwork (@pulumi/openstack)", () => {
  it("boots the server on a port of the network and exposes the port's address and MAC", async () => {
    const s = new ServerOnNetwork("vm", { networkId: "uuid-red", imageName: "cirros", flavorName: "m1.tiny" });
    await Promise.all([s.port, s.server].map(registeredResource));
    expect(find("openstack:networking/port:Port", "vm").inputs).toMatchObject({ networkId: "uuid-red", adminStateUp: true });
    expect(find("openstack:compute/instance:Instance", "vm").inputs).toMatchObject({ imageName: "cirros", flavorName: "m1.tiny", networks: [{ port: "vm-id" }] });
    expect(await value(s.ip)).toBe("10.1.1.7");
    expect(await value(s.mac)).toBe("fa:16:3e:00:00:07");
  });
});
