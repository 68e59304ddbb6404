// Element: plugs the VMI's port into the vRouter agent of the pod's node (POST /port, a VM port of
// the VN, system-name = the host end of the veth), as TF's CNI does. From then on the node's
// vRouter carries the port's traffic and the control node advertises its address. Close unplugs.
import type { VrouterAgentClient } from "../../../provider/clients/vrouterAgent.ts";
import { agentPort } from "../../../provider/clients/vrouterAgent.ts";
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn } from "../../chain.ts";
import type { TungstenCall } from "./call.ts";
import { tapName } from "./call.ts";

/** The agent of a node; throws (naming the node) when there is none. */
export type AgentOf = (node: string) => VrouterAgentClient;

export function vrouterPort(agentOf: AgentOf): Element<TungstenCall> {
  return {
    name: "tungsten/vrouter-port",
    request: async (call, next) => {
      const tf = call.tf!;
      const agent = agentOf(call.node);
      await agent.addPort(
        agentPort({
          id: tf.vmiUuid!,
          "instance-id": tf.vmUuid!,
          "ip-address": tf.ip!,
          "vn-id": tf.vnUuid,
          "display-name": tf.vmName,
          "vm-project-id": tf.projectUuid,
          "mac-address": tf.mac!,
          "system-name": tapName(tf.vmiUuid!),
          type: 0,
          author: "nsm-tungsten-forwarder",
        }),
      );
      return passOn(call, next, call.refresh ? undefined : () => agent.deletePort(tf.vmiUuid!));
    },
    close: (call, next) =>
      passCloseOn(call, next, async () => {
        if (call.tf?.vmiUuid) await agentOf(call.node).deletePort(call.tf.vmiUuid);
      }),
  };
}
