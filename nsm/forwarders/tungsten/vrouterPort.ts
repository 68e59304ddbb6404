// Element: plugs the VMI's port into the vRouter agent of the pod's node (POST /port, a VM port of
// the VN, system-name = the host end of the veth), as TF's CNI does, from what tf-objects wrote
// into the connection's context. From then on the node's vRouter carries the port's traffic and the
// control node advertises its address. The plug runs while the rest of the chain (the pod's address)
// does its part, and the element answers once both are done: a failing plug closes what the rest
// built, a failing rest unplugs. Close unplugs.
// The agent keeps a port until it is unplugged, even once its VMI is gone from the config (TF's
// agent does the same), so a heal that rebuilt a VMI deleted in TF unplugs the old VMI's port, and
// close unplugs the port the connection last plugged as well as the VMI TF has now.
// Check: the agent carries the port (GET /port answers only while its VMI and address are in the
// config), on the connection's VN with its MAC.
import type { Connection } from "../../../wire/nsm/api.ts";
import type { VrouterAgentClient } from "../../../wire/vrouterAgent.ts";
import { agentPort, tapName } from "../../../wire/vrouterAgent.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, checkThenPassOn, passCloseOn, passOn } from "../../chain.ts";
import { extraOf, isHeal, nodeOf, srcIpOf, srcMacOf, withContext } from "../../connection.ts";
import { PLUGGED_PORT, PROJECT_UUID, tfObjectName, VM_UUID, vmiOf, VN_UUID } from "./context.ts";

/** The agent of a node; throws (naming the node) when there is none. */
export type AgentOf = (node: string) => VrouterAgentClient;

/** What the port is made of, as tf-objects left it in the context. */
function portOf(c: Connection) {
  const facts = { vmi: vmiOf(c), vm: extraOf(c, VM_UUID), vn: extraOf(c, VN_UUID), ip: srcIpOf(c), mac: srcMacOf(c) };
  const missing = Object.entries(facts).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) throw new Error(`connection ${c.id} lacks the port's ${missing.join(", ")} (tungsten/tf-objects fills them in)`);
  return facts as Record<keyof typeof facts, string>;
}

export function vrouterPort(agentOf: AgentOf): Element<Connection> {
  return {
    name: "tungsten/vrouter-port",
    request: async (c, next) => {
      const port = portOf(c);
      const agent = agentOf(nodeOf(c));
      const heal = isHeal(c);
      const plugging = agent.addPort(
        agentPort({
          id: port.vmi,
          "instance-id": port.vm,
          "ip-address": port.ip,
          "vn-id": port.vn,
          "display-name": tfObjectName(c.id),
          "vm-project-id": extraOf(c, PROJECT_UUID) ?? "",
          "mac-address": port.mac,
          "system-name": tapName(port.vmi),
          type: 0,
          author: "nsm-tungsten-forwarder",
        }),
      ).then(async () => {
        const replaced = heal ? extraOf(c, PLUGGED_PORT) : undefined;
        if (replaced && replaced !== port.vmi) await agent.deletePort(replaced);
      });
      // Settled below on every path; this only keeps it from counting as unhandled meanwhile.
      plugging.catch(() => {});
      const withPort = withContext(c, { extra_context: { [PLUGGED_PORT]: port.vmi } });
      // A failed heal keeps what was established; it only lets the plug finish before answering.
      if (heal) {
        const out = await passOn(withPort, next, () => plugging.catch(() => {}));
        await plugging;
        return out;
      }
      const unplug = () => agent.deletePort(port.vmi);
      const out = await passOn(withPort, next, async () => {
        // The rest failed: the plug finishes (or fails) first, so the unplug is the last word.
        if (await plugging.then(() => true, () => false)) await unplug();
      });
      await applyOrUndo(
        () => plugging,
        async () => {
          await next.close(out);
          await unplug();
        },
      );
      return out;
    },
    close: (c, next) =>
      passCloseOn(c, next, async () => {
        const ports = new Set([vmiOf(c), extraOf(c, PLUGGED_PORT)].filter((u): u is string => u !== undefined));
        for (const uuid of ports) await agentOf(nodeOf(c)).deletePort(uuid);
      }),
    check: (c, next) =>
      checkThenPassOn(c, next, async () => {
        const plugged = extraOf(c, PLUGGED_PORT);
        if (!plugged) return `connection ${c.id} has no vRouter port`;
        const node = nodeOf(c);
        const live = await agentOf(node).getPort(plugged);
        if (!live) return `the vRouter agent of ${node} does not carry port ${plugged} (its VMI or address is gone from the config)`;
        const vn = extraOf(c, VN_UUID);
        if (vn && live["vn-id"] !== vn) return `port ${plugged} is on network ${live["vn-id"]}, not ${vn}`;
        const mac = srcMacOf(c)?.toLowerCase();
        return mac && live["mac-address"]?.toLowerCase() !== mac ? `port ${plugged} has MAC ${live["mac-address"]}, not ${mac}` : undefined;
      }),
  };
}
