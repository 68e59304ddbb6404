// Destroy converges: a delete the API refuses because something still uses the object (TF's 409
// "still referred" for a network with ports on it, NSM's 409 for a service with connections) looks
// at what uses it and, rather than stopping there:
//   - removes what certainly belongs to this stack and is tracked by no resource (a server an
//     interrupted create of this stack booted, still marked "creating"),
//   - waits while users are on their way out (a server Nova is deleting; anything of this stack,
//     whose own delete may be running beside this one) and tries again,
//   - and when nothing moves any more, closes this stack's connections (cheap to make again, and
//     useless without the service or network going away) and fails naming every remaining user,
//     who made it, and the command that removes it.
import { NSM_ANNOTATION, isAnnotationConnectionId } from "../../wire/nsm/annotation.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { orUndefinedOn404 } from "../../lib/http/client.ts";
import { formatFqName } from "../../lib/validate/fqname.ts";
import { isGone } from "../../wire/openstack/index.ts";
import type { Connection } from "../../wire/nsm/api.ts";
import { POD_NAMESPACE_LABEL } from "../../wire/nsm/api.ts";
import type { TfObject, TfRef } from "../../wire/tf.ts";
import type { Clients } from "./context.ts";
import { progress, settings } from "./context.ts";
import { CREATING, OWNER_KEY, OWNER_METADATA, STATE_METADATA, sameStack } from "./identity.ts";

/** Something that keeps an object from being deleted. */
export interface Blocker {
  /** Stable key across polls, e.g. "server <id>". */
  key: string;
  /** What it is, for messages: "port 1a2b... of Nova server blue-vm (5c6d...)". */
  what: string;
  /** Who made it: a URN when tfmesh did. */
  owner?: string;
  /** Tracked by no resource (an interrupted create's): removed at once when it is this stack's. */
  untracked?: boolean;
  /** Being removed already (e.g. Nova is deleting the server): wait for it. */
  leaving?: boolean;
  /** Removes it; given for what this stack may remove once waiting brought nothing. */
  remove?: () => Promise<void>;
  /** What remove() removes, when that is more than `what` (the server a port belongs to). */
  removes?: string;
  /** The command or call that removes it, for the error. */
  fix: string;
}

export interface ConvergentDelete {
  /** "virtual network default-domain:admin:blue (uuid)" */
  what: string;
  /** The owner of the object being deleted (its URN), when tfmesh made it. */
  owner?: string;
  /** Deletes; resolves when done (absent counts as done). */
  attempt: () => Promise<void>;
  /** Whether the error is "still in use". */
  inUse: (err: unknown) => boolean;
  /** What uses the object now. */
  blockers: () => Promise<Blocker[]>;
  /** How long users may take to go while some of them move or are on their way out (default 5 min). */
  deadlineMs?: number;
  /** How long nothing may change before this stack's users are removed or the delete fails (default 10 s). */
  settleMs?: number;
  /** Poll interval (default 1 s). */
  pollMs?: number;
}

export async function deleteConverging(d: ConvergentDelete): Promise<void> {
  const deadline = Date.now() + (d.deadlineMs ?? 300_000);
  const settleMs = d.settleMs ?? 10_000;
  const pollMs = d.pollMs ?? 1000;
  let lastChange = Date.now();
  let lastKeys = "";
  let removedOurs = false;
  for (;;) {
    try {
      await d.attempt();
      return;
    } catch (err) {
      if (!d.inUse(err)) throw err;
      const blockers = await d.blockers();
      const keys = blockers.map((b) => b.key).sort().join(",");
      if (keys !== lastKeys) {
        lastKeys = keys;
        lastChange = Date.now();
      }
      if (blockers.length === 0) {
        // Gone between the refusal and the look: try again.
        if (Date.now() > deadline) throw err;
        await sleep(pollMs);
        continue;
      }
      const ours = (b: Blocker) => d.owner !== undefined && b.owner !== undefined && sameStack(d.owner, b.owner);
      // Another stack's interrupted create may be retried by that stack: only this stack's go at once.
      const untracked = blockers.filter((b) => b.untracked && b.remove && ours(b));
      for (const b of untracked) {
        progress(`deleting ${b.removes ?? b.what}, which keeps ${d.what} from being deleted: made by ${b.owner}, whose create was interrupted, and tracked by no resource`);
        await b.remove!();
      }
      if (untracked.length > 0) continue;
      const mayGo = blockers.filter((b) => b.leaving || ours(b));
      const settled = Date.now() - lastChange >= settleMs;
      if (mayGo.length > 0 && !settled && Date.now() < deadline) {
        progress(`waiting for ${mayGo.map((b) => b.what).join(", ")} to go before deleting ${d.what}`);
        await sleep(pollMs);
        continue;
      }
      if (mayGo.some((b) => b.leaving) && Date.now() < deadline) {
        await sleep(pollMs);
        continue;
      }
      const removable = blockers.filter((b) => ours(b) && b.remove && !b.leaving);
      if (!removedOurs && removable.length > 0) {
        removedOurs = true;
        for (const b of removable) {
          progress(`removing ${b.removes ?? b.what} (made by ${b.owner}, of this stack), which keeps ${d.what} from being deleted`);
          await b.remove!();
        }
        continue;
      }
      throw new Error(
        `${d.what} is still used by:\n${blockers.map((b) => `  - ${b.what}${b.owner ? `, made by ${b.owner}` : ", not made by tfmesh"}: ${b.fix}`).join("\n")}\n` +
          `remove ${blockers.length === 1 ? "it" : "them"}, then run the delete (\`pulumi destroy\` or \`pulumi up\`) again`,
      );
    }
  }
}

// ---- what uses a virtual network -------------------------------------------------------------

/** The ports (VMIs) and addresses on a TF virtual network, and who holds them. */
export async function virtualNetworkBlockers(c: Clients, vnUuid: string): Promise<Blocker[]> {
  const vn = await orUndefinedOn404(c.tf.read("virtual-network", vnUuid));
  if (!vn) return [];
  const refs = (field: string) => ((vn[field] as TfRef[] | undefined) ?? []).map((r) => r.uuid!).filter(Boolean);
  const out: Blocker[] = [];
  const seenServers = new Set<string>();
  const seenConnections = new Set<string>();
  const vmis = refs("virtual_machine_interface_back_refs");
  for (const vmiUuid of vmis) {
    const vmi = await orUndefinedOn404(c.tf.read("virtual-machine-interface", vmiUuid));
    if (!vmi) continue;
    const vm = ((vmi.virtual_machine_refs as TfRef[] | undefined) ?? [])[0];
    const vmName = vm ? String(vm.to[vm.to.length - 1]) : undefined;
    const nsm = vmName?.startsWith("nsm-") ? vmName.slice(4) : undefined;
    if (nsm !== undefined) {
      if (!seenConnections.has(nsm)) {
        seenConnections.add(nsm);
        const conn = await c.nsm.getConnection(nsm);
        out.push(conn ? connectionBlocker(c, conn) : { key: `vmi ${vmiUuid}`, what: `port ${vmiUuid} (${formatFqName(vmi.fq_name)}) of NSM connection ${nsm}`, leaving: true, fix: `wait for NSM to finish closing connection ${nsm}` });
      }
      continue;
    }
    if (vm?.uuid) {
      if (seenServers.has(vm.uuid)) continue;
      seenServers.add(vm.uuid);
      const server = await c.openstack.nova.getServer(vm.uuid);
      if (server && !isGone(server)) {
        const owner = server.metadata?.[OWNER_METADATA];
        const creating = server.metadata?.[STATE_METADATA] === CREATING;
        out.push({
          key: `server ${server.id}`,
          what: `port ${vmiUuid} of Nova server ${server.name} (${server.id})`,
          ...(owner !== undefined ? { owner } : {}),
          untracked: owner !== undefined && creating,
          leaving: server["OS-EXT-STS:task_state"] === "deleting",
          ...(owner !== undefined && creating ? { remove: () => deleteServer(c, server.id), removes: `Nova server ${server.name} (${server.id})` } : {}),
          fix: `delete the server with \`openstack server delete --wait ${server.id}\`${owner ? `, or the resource ${owner} that tracks it` : ""}`,
        });
        continue;
      }
    }
    out.push({
      key: `vmi ${vmiUuid}`,
      what: `port ${vmiUuid} (${formatFqName(vmi.fq_name)})${vm ? ` of virtual machine ${formatFqName(vm.to)}` : ""}`,
      fix: `delete the port with \`openstack port delete ${vmiUuid}\``,
    });
  }
  for (const iip of refs("instance_ip_back_refs")) {
    const obj = await orUndefinedOn404(c.tf.read("instance-ip", iip));
    if (!obj) continue;
    const held = ((obj.virtual_machine_interface_refs as TfRef[] | undefined) ?? []).some((r) => r.uuid && vmis.includes(r.uuid));
    if (held) continue; // named with its port
    out.push({ key: `iip ${iip}`, what: `instance-ip ${formatFqName(obj.fq_name)} (${iip}, ${String((obj as TfObject).instance_ip_address ?? "")})`, fix: `delete it through the TF API: DELETE ${settings().tfApiUrl}/instance-ip/${iip}` });
  }
  return out;
}

async function deleteServer(c: Clients, id: string): Promise<void> {
  await c.openstack.nova.deleteServer(id);
  await c.openstack.nova.waitForDeleted(id, { timeoutMs: 120_000 });
}

// ---- what uses a network service -------------------------------------------------------------

export function connectionBlocker(c: Clients, conn: Connection): Blocker {
  const owner = conn.labels?.[OWNER_KEY];
  const pod = conn.labels?.podName;
  const ifname = conn.mechanism?.parameters?.name;
  const blocker: Blocker = {
    key: `connection ${conn.id}`,
    what: `NSM connection ${conn.id}${pod ? ` (pod ${pod}${ifname ? `, interface ${ifname}` : ""})` : ""}`,
    ...(owner !== undefined ? { owner } : {}),
    remove: () => c.nsm.close({ id: conn.id }),
    fix: `close it with NSM's Close (networkservice.NetworkService/Close, connection id "${conn.id}") at ${settings().nsmTarget}${owner ? `, or delete the resource ${owner}` : pod ? `, or delete pod ${pod}` : ""}`,
  };
  if (isAnnotationConnectionId(conn.id) && pod) {
    // The pod's nsc-init asked for it: closing it would take the interface from a running pod.
    const where = `${conn.labels?.[POD_NAMESPACE_LABEL] ?? "default"}/${pod}`;
    return { ...blocker, what: `NSM connection ${conn.id} (interface ${ifname ?? "?"} of pod ${where}, from its ${NSM_ANNOTATION} annotation)`, fix: `delete pod ${where}, or the workload whose pod template carries the annotation` };
  }
  return blocker;
}

/** The connections that use a network service. */
export async function networkServiceBlockers(c: Clients, name: string): Promise<Blocker[]> {
  return (await c.nsm.listConnections()).filter((conn) => conn.network_service === name).map((conn) => connectionBlocker(c, conn));
}
