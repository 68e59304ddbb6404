// TungstenForwarder (real clusters): the TF forwarder for NSM as a DaemonSet of `tfmesh forwarder`
// (image: components/k8s/forwarder.Containerfile, see README.md), one per node next to the node's
// vRouter. It needs the host network (to reach the local vRouter agent on 127.0.0.1:9091), the
// host's pids (to find a client's netns from NSM's inode://<dev>/<ino> through /proc), privileges
// and the host's netns folder (to build veth pairs into client pods), and the NSM socket folder
// (to register with the node's NSMgr, to be called back on its own socket there, and to keep its
// connections across restarts). The manifest is nsm/forwarderd/manifest.ts's, whose environment is
// exactly what nsm/forwarderd/config.ts reads.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { forwarderManifest } from "../../nsm/forwarderd/manifest.ts";

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
  /**
   * The host folder with the SPIRE agent's Workload API socket `agent.sock` (the forwarder's SVID: mTLS
   * and path tokens on NSM's gRPC API). Default "/run/spire/sockets", where NSM's deployments put it.
   */
  spireSocketDir?: pulumi.Input<string>;
  provider?: k8s.Provider;
}

export class TungstenForwarder extends pulumi.ComponentResource {
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly daemonSet: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: TungstenForwarderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:k8s:TungstenForwarder", name, {}, opts);
    const childOpts = { parent: this, ...(args.provider ? { provider: args.provider } : {}) };
    // The manifest is nsm/forwarderd/manifest.ts's (the lab applies the same one): built once every input is known.
    const manifest = pulumi
      .output({
        image: args.image,
        namespace: args.namespace ?? "nsm-system",
        tfApiUrl: args.tfApiUrl,
        tfAuthSecretName: args.tfAuthSecretName,
        tfKeystone: args.tfKeystone,
        agentUrl: args.agentUrl,
        nodeSelector: args.nodeSelector,
        spireSocketDir: args.spireSocketDir,
      })
      .apply((a) =>
        forwarderManifest({
          name,
          type: "tungsten",
          image: a.image,
          namespace: a.namespace,
          tfApiUrl: a.tfApiUrl,
          ...(a.tfAuthSecretName !== undefined ? { tfAuthSecretName: a.tfAuthSecretName } : {}),
          ...(a.tfKeystone !== undefined ? { tfKeystone: a.tfKeystone } : {}),
          ...(a.agentUrl !== undefined ? { agentUrl: a.agentUrl } : {}),
          ...(a.nodeSelector !== undefined ? { nodeSelector: a.nodeSelector } : {}),
          ...(a.spireSocketDir !== undefined ? { spireSocketDir: a.spireSocketDir } : {}),
          ...(args.healthPort !== undefined ? { healthPort: args.healthPort } : {}),
        }),
      );
    const namespace = manifest.serviceAccount.metadata.namespace;
    this.serviceAccount = new k8s.core.v1.ServiceAccount(name, { metadata: { namespace } }, childOpts);
    // The account's real name (Pulumi auto-names it) goes into the pod template.
    const spec = pulumi.all([manifest.daemonSet.spec, this.serviceAccount.metadata.name]).apply(
      ([s, account]): k8s.types.input.apps.v1.DaemonSetSpec => ({ ...s, selector: s.selector, template: { ...s.template, spec: { ...s.template.spec, serviceAccountName: account } } }),
    );
    this.daemonSet = new k8s.apps.v1.DaemonSet(name, { metadata: { namespace, labels: manifest.daemonSet.metadata.labels }, spec }, childOpts);
    this.registerOutputs({});
  }
}
