// TungstenForwarder (real clusters): the TF forwarder for NSM as a DaemonSet of `tfmesh forwarder`
// (image: components/k8s/forwarder.Containerfile, see README.md), one per node next to the node's
// vRouter. It needs the host network (to reach the local vRouter agent on 127.0.0.1:9091), the
// host's pids (to find a client's netns from NSM's inode://<dev>/<ino> through /proc), privileges
// and the host's netns folder (to build veth pairs into client pods), and the NSM socket folder
// (to register with the node's NSMgr, to be called back on its own socket there, and to keep its
// connections across restarts). The environment is exactly what nsm/forwarderd/config.ts reads.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface TungstenForwarderArgs {
  /** Forwarder image: `tfmesh forwarder` built from components/k8s/forwarder.Containerfile (see README.md). */
  image: pulumi.Input<string>;
  namespace?: pulumi.Input<string>;
  /** TF config API, e.g. "http://tf-config.tf:8082". */
  tfApiUrl: pulumi.Input<string>;
  /** Secret for TF's Keystone auth, when TF runs with auth: key "token" (a token), or key "password" with `tfKeystone`. */
  tfAuthSecretName?: pulumi.Input<string>;
  /** Keystone to get TF tokens from (the password comes from tfAuthSecretName's key "password"). */
  tfKeystone?: { authUrl: pulumi.Input<string>; username: pulumi.Input<string>; project: pulumi.Input<string>; domain?: pulumi.Input<string> };
  /** vRouter agent port API on each node; default "http://127.0.0.1:9091". */
  agentUrl?: pulumi.Input<string>;
  /** Restrict to nodes with a vRouter, e.g. { "node-role.opencontrail.org/agent": "" }. */
  nodeSelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** TCP port (on the node: host network) of its grpc.health.v1 service, probed by the kubelet. Default 5801. */
  healthPort?: number;
  provider?: k8s.Provider;
}

const NSM_SOCKET_DIR = "/var/lib/networkservicemesh";
const DEFAULT_HEALTH_PORT = 5801;

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
    const healthPort = args.healthPort ?? DEFAULT_HEALTH_PORT;
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
                    // Stable across the pod's restarts, so the NSMgr finds the connections' forwarder again.
                    { name: "NSM_NAME", value: "tungsten@$(NODE_NAME)" },
                    { name: "NSM_LABELS", value: "type:tungsten" },
                    { name: "NSM_CONNECT_TO", value: `unix://${NSM_SOCKET_DIR}/nsm.io.sock` },
                    { name: "NSM_LISTEN_ON", value: `unix://${NSM_SOCKET_DIR}/tfmesh-${name}.sock` },
                    { name: "TFMESH_STATE_DIR", value: `${NSM_SOCKET_DIR}/tfmesh/${name}` },
                    { name: "TFMESH_HEALTH_LISTEN_ON", value: `tcp://0.0.0.0:${healthPort}` },
                    { name: "TF_API_URL", value: args.tfApiUrl },
                    { name: "VROUTER_AGENT_URL", value: args.agentUrl ?? "http://127.0.0.1:9091" },
                    ...(args.tfAuthSecretName !== undefined && args.tfKeystone === undefined
                      ? [{ name: "TF_AUTH_TOKEN", valueFrom: { secretKeyRef: { name: args.tfAuthSecretName, key: "token", optional: true } } }]
                      : []),
                    ...(args.tfKeystone !== undefined
                      ? [
                          { name: "OS_AUTH_URL", value: args.tfKeystone.authUrl },
                          { name: "OS_USERNAME", value: args.tfKeystone.username },
                          { name: "OS_PROJECT_NAME", value: args.tfKeystone.project },
                          { name: "OS_USER_DOMAIN_NAME", value: args.tfKeystone.domain ?? "Default" },
                          ...(args.tfAuthSecretName !== undefined ? [{ name: "OS_PASSWORD", valueFrom: { secretKeyRef: { name: args.tfAuthSecretName, key: "password" } } }] : []),
                        ]
                      : []),
                  ],
                  ports: [{ name: "health", containerPort: healthPort, protocol: "TCP" }],
                  readinessProbe: { grpc: { port: healthPort }, periodSeconds: 10 },
                  livenessProbe: { grpc: { port: healthPort }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
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
