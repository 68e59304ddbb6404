// Element: plugs the VMI's port into the vRouter agent of the pod's node (POST /port, a VM port of
// the VN, system-name = the host end of the veth), as TF's CNI does. From then on the node's
// vRouter carries the port's traffic and the control node advertises its address. Close unplugs.
// The agent keeps a port until it is unplugged, even once its VMI is gone from the config (TF's
// agent does the same), so a refresh that rebuilt a VMI deleted in TF unplugs the old VMI's port,
// and close unplugs the port the connection last plugged as well as the VMI TF has now.
import type { VrouterAgentClient } from "../../../wire/vrouterAgent.ts";
import { agentPort } from "../../../wire/vrouterAgent.ts";
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn } from "../../chain.ts";
import type { TungstenCall } from "./call.ts";
import { pluggedVmi } from "./call.ts";
import { tapName } from "../../../wire/vrouterAgent.ts";

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
      const replaced = call.refresh ? pluggedVmi(call.connection) : undefined;
      if (replaced && replaced !== tf.vmiUuid) await agent.deletePort(replaced);
      return passOn(call, next, call.refresh ? undefined : () => agent.deletePort(tf.vmiUuid!));
    },
    close: (call, next) =>
      passCloseOn(call, next, async () => {
        const ports = new Set([call.tf?.vmiUuid, pluggedVmi(call.connection)].filter((u): u is string => u !== undefined));
        for (const uuid of ports) await agentOf(call.node).deletePort(uuid);
      }),
  };
}
