// TungstenForwarder (real clusters): the TF forwarder for NSM as a DaemonSet, one per node next
// to the node's vRouter. It needs the host network (to reach the local vRouter agent on
// 127.0.0.1:9091), privileges and the host's netns folder (to build veth pairs into client pods),
// and the NSM socket folder (to register with the node's NSMgr).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface TungstenForwarderArgs {
  /** Forwarder image (this repository's nsm/forwarders/tungsten, built for your cluster). */
  image: pulumi.Input<string>;
  namespace?: pulumi.Input<string>;
  /** TF config API, e.g. "http://tf-config.tf:8082". */
  tfApiUrl: pulumi.Input<string>;
  /** Secret (key "token" or "password") for TF's Keystone auth, when TF runs with auth. */
  tfAuthSecretName?: pulumi.Input<string>;
  /** vRouter agent port API on each node; default "http://127.0.0.1:9091". */
  agentUrl?: pulumi.Input<string>;
  /** Restrict to nodes with a vRouter, e.g. { "node-role.opencontrail.org/agent": "" }. */
  nodeSelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  provider?: k8s.Provider;
}

const NSM_SOCKET_DIR = "/var/lib/networkservicemesh";

export class TungstenForwarder extends pulumi.ComponentResource {
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly daemonSet: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: TungstenForwarderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:k8s:TungstenForwarder", name, {}, opts);
    const namespace = args.namespace ?? "nsm-system";
    const childOpts = { parent: this, ...(args.provider ? { provider: args.provider } : {}) };
    this.serviceAccount = new k8s.core.v1.ServiceAccount(name, { metadata: { namespace } }, childOpts);
    const labels = { app: name, "networkservicemesh.io/forwarder": "tungsten" };
    const hostPath = (path: string, type: string) => ({ path, type });
    this.daemonSet = new k8s.apps.v1.DaemonSet(
      name,
      {
        metadata: { namespace, labels },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: this.serviceAccount.metadata.name,
              hostNetwork: true,
              dnsPolicy: "ClusterFirstWithHostNet",
              hostPID: true,
              tolerations: [{ operator: "Exists" }],
              ...(args.nodeSelector !== undefined ? { nodeSelector: args.nodeSelector } : {}),
              containers: [
                {
                  name: "forwarder",
                  image: args.image,
                  securityContext: { privileged: true },
                  env: [
                    { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
                    { name: "NSM_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "NSM_LABELS", value: "type:tungsten" },
                    { name: "NSM_CONNECT_TO", value: `unix://${NSM_SOCKET_DIR}/nsm.io.sock` },
                    { name: "TF_API_URL", value: args.tfApiUrl },
                    { name: "VROUTER_AGENT_URL", value: args.agentUrl ?? "http://127.0.0.1:9091" },
                    ...(args.tfAuthSecretName !== undefined
                      ? [{ name: "TF_AUTH_TOKEN", valueFrom: { secretKeyRef: { name: args.tfAuthSecretName, key: "token", optional: true } } }]
                      : []),
                  ],
                  volumeMounts: [
                    { name: "nsm-socket", mountPath: NSM_SOCKET_DIR },
                    { name: "netns", mountPath: "/var/run/netns", mountPropagation: "HostToContainer" },
                  ],
                },
              ],
              volumes: [
                { name: "nsm-socket", hostPath: hostPath(NSM_SOCKET_DIR, "DirectoryOrCreate") },
                { name: "netns", hostPath: hostPath("/var/run/netns", "Directory") },
              ],
            },
          },
        },
      },
      childOpts,
    );
    this.registerOutputs({});
  }
}
