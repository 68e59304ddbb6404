// The lab's Kubernetes: a control plane of real binaries (controlPlane.ts) and the lab as the
// kubelet of its k8s nodes (nodeAgent.ts, podAgent.ts), for instances with `kubernetes: true`.
import type { DatabaseSync } from "node:sqlite";
import { KubernetesClient } from "../../wire/kubernetes.ts";
import type { PodRuntime } from "../dataplane/types.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { labNodes } from "../instance.ts";
import { ensureBinaries } from "./binaries.ts";
import { apiserverUrl, controlPlanePorts, startControlPlane } from "./controlPlane.ts";
import type { ComponentHealth, ControlPlane } from "./controlPlane.ts";
import { kubeFiles, prepareFiles, servingCa, writeKubeconfig } from "./files.ts";
import { createNodeAgent } from "./nodeAgent.ts";
import type { NodeAgent } from "./nodeAgent.ts";
import { applyObjects, labForwarderObjects } from "./forwarderDaemonSets.ts";
import type { LabForwarderInputs } from "./forwarderDaemonSets.ts";
import { createPodAgent } from "./podAgent.ts";
import { applyWebhookConfiguration, serveAdmissionWebhook } from "./admission.ts";
import fs from "node:fs";
import type { AdmissionWebhook } from "./admission.ts";
import type { NscClient } from "./nscInit.ts";
import { createProcessPods } from "./processPods.ts";
import type { ProcessPods } from "./processPods.ts";
import type { PodAgent } from "./podAgent.ts";
import { KubePodStore, displayName } from "./podStore.ts";

export interface LabKubernetesOptions {
  config: LabInstanceConfig;
  db: DatabaseSync;
  runtime: PodRuntime;
  closeConnections(runtimeName: string): Promise<void>;
  /** The NSMgr that pods' nsc-init containers request their interfaces from. */
  nsc: NscClient;
  log(line: string): void;
  phase(p: string): void;
}

export interface LabKubernetes {
  /** Whether a runtime pod belongs to a Kubernetes pod (known from the stored rows, before start). */
  owns(runtimeName: string): boolean;
  /** The Kubernetes pod a runtime pod is, as people name it: "name" in namespace default, else "namespace/name". */
  podName(runtimeName: string): string | undefined;
  /** How many pods the kubelet runs in namespaces of their own (not hostNetwork). */
  podCount(): number;
  start(): Promise<void>;
  /** Applies the tungsten and kernel forwarder DaemonSets (after start()); their pods register themselves. */
  applyForwarders(inputs: LabForwarderInputs): Promise<void>;
  /** Stops the processes the kubelet runs for pods (the forwarders), before the NSMgr's socket closes. */
  stopProcesses(): Promise<void>;
  health(): Promise<ComponentHealth[]>;
  /** The admin client of the lab's API server (after start()). */
  client(): KubernetesClient;
  stop(): Promise<void>;
}

/** 10.244.<k+1>.0/24 for the k-th k8s node, as lab/dataplane/names.ts allocates pod addresses. */
const podCidr = (k8sIndex: number) => `10.244.${k8sIndex + 1}.0/24`;

export function createLabKubernetes(o: LabKubernetesOptions): LabKubernetes {
  const store = new KubePodStore(o.db);
  const files = kubeFiles(o.config.stateDir);
  const ports = controlPlanePorts(o.config);
  const k8sNodes = labNodes(o.config).filter((n) => n.kind === "k8s");
  let plane: ControlPlane | undefined;
  let nodeAgent: NodeAgent | undefined;
  let podAgent: PodAgent | undefined;
  let client: KubernetesClient | undefined;
  let processes: ProcessPods | undefined;
  let webhook: AdmissionWebhook | undefined;

  return {
    owns: (name) => store.owns(name),
    podName: (runtimeName) => {
      const r = store.get(runtimeName);
      return r ? displayName(r) : undefined;
    },
    podCount: () => store.count(),
    async start() {
      o.phase("Kubernetes: finding the control plane binaries");
      const binaries = await ensureBinaries((line) => o.phase(`Kubernetes: ${line}`));
      const { token } = prepareFiles(files);
      const server = apiserverUrl(ports);
      // On a restart the API server's certificate is there: the webhook answers before the controllers start.
      if (fs.existsSync(files.servingCert)) webhook = await serveAdmissionWebhook({ files, log: (line) => o.log(`kube: ${line}`) });
      plane = await startControlPlane({
        config: o.config,
        binaries,
        files,
        token,
        onApiserverReady: () => writeKubeconfig(files, { instance: o.config.name, server, token }),
        log: (line) => o.log(`kube: ${line}`),
        phase: (p) => o.phase(`Kubernetes: ${p}`),
      });
      const kube = new KubernetesClient({ server, token, ca: servingCa(files) });
      client = kube;
      o.phase("Kubernetes: serving NSM's admission webhook");
      webhook ??= await serveAdmissionWebhook({ files, log: (line) => o.log(`kube: ${line}`) });
      await applyWebhookConfiguration(kube, files, webhook.url);
      o.phase("Kubernetes: registering the k8s nodes");
      nodeAgent = createNodeAgent(
        kube,
        k8sNodes.map((n, k) => ({ name: n.name, ip: n.ip, podCIDR: podCidr(k) })),
        (line) => o.log(`kube: ${line}`),
      );
      await nodeAgent.start();
      o.phase("Kubernetes: reconciling pods");
      processes = createProcessPods({ client: kube, prefix: o.config.prefix, log: o.log, onChange: (namespace, name) => podAgent?.schedule(namespace, name) });
      podAgent = createPodAgent({
        client: kube,
        processes,
        nodes: new Map(k8sNodes.map((n) => [n.name, { ip: n.ip }])),
        runtime: o.runtime,
        store,
        closeConnections: o.closeConnections,
        nsc: o.nsc,
        log: (line) => o.log(`kube: ${line}`),
      });
      await podAgent.start();
    },
    async applyForwarders(inputs) {
      if (!client) throw new Error("applyForwarders before start()");
      await applyObjects(client, labForwarderObjects(inputs));
    },
    stopProcesses: async () => processes?.stopAll(),
    health: async () => (plane ? plane.health() : []),
    client() {
      if (!client) throw new Error("the Kubernetes client is there only after start()");
      return client;
    },
    async stop() {
      nodeAgent?.stop();
      await podAgent?.stop().catch((e: Error) => o.log(`kube: pod agent stop: ${e.message}`));
      await webhook?.close();
      await plane?.stop();
    },
  };
}
