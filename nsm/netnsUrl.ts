// The client's network namespace from the kernel mechanism's inodeURL, as a forwarder on the node
// finds it. NSM's client sends its namespace as `inode://<st_dev>/<st_ino>` (its sendfd layer would
// pass the fd itself, which Node cannot receive), or a `file://` path of the namespace. Every kernel
// operation here takes a namespace by name (`ip -n <name>`), so the answer is a name under
// /var/run/netns: the named namespace with that inode (the lab's pods, CRI's cni-<id>), else one a
// hostPID forwarder finds through /proc/<pid>/ns/net and names itself (`ip netns attach`), which
// the connection's close removes again.
import fs from "node:fs";
import { netns } from "../lib/kernel/index.ts";
import { NsmError } from "./errors.ts";

const INODE_URL = /^inode:\/\/(\d+)\/(\d+)$/;
const NAMED = /^file:\/\/\/var\/run\/netns\/([^/]+)$/;

/** The names a forwarder gives the namespaces it found only through /proc. */
export const ATTACHED_PREFIX = "nsmfwd-";

export interface NamespaceId {
  dev: number;
  ino: number;
}

/** The device and inode of a namespace file, or undefined when there is none. */
function idOf(file: string): NamespaceId | undefined {
  try {
    const st = fs.statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

const same = (a: NamespaceId | undefined, b: NamespaceId) => a !== undefined && a.dev === b.dev && a.ino === b.ino;

/** The namespace an inodeURL means: its device and inode. */
export function namespaceIdOf(url: string): NamespaceId {
  const inode = INODE_URL.exec(url);
  if (inode) return { dev: Number(inode[1]), ino: Number(inode[2]) };
  if (!url.startsWith("file:///")) throw new NsmError(400, `inodeURL must be file:///<path> or inode://<dev>/<ino>, got "${url}"`);
  const file = decodeURIComponent(url.slice("file://".length));
  const id = idOf(file);
  if (!id) throw new NsmError(400, `inodeURL ${url}: ${file} does not exist on this node`);
  return id;
}

/** A process whose network namespace is `id`, found through /proc (a hostPID forwarder sees every pod's). */
export function processIn(id: NamespaceId, proc = "/proc"): number | undefined {
  for (const entry of fs.readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    if (same(idOf(`${proc}/${entry}/ns/net`), id)) return Number(entry);
  }
  return undefined;
}

/** The name under /var/run/netns of the namespace `id`, if it has one. */
export function namedNetns(id: NamespaceId): string | undefined {
  return netns.list().find((name) => same(idOf(`${netns.NETNS_DIR}/${name}`), id));
}

/**
 * A process of the pod with this uid whose network namespace is not the node's own, found through
 * /proc/<pid>/cgroup: the kubelet puts a pod's containers under a cgroup named after its uid, as
 * "pod<uid>" (cgroupfs driver) or "pod<uid with '_' for '-'>.slice" (systemd driver). A hostNetwork
 * pod's processes share the node's namespace and are skipped: such a pod has no namespace of its own.
 */
export function processOfPod(uid: string, proc = "/proc"): number | undefined {
  const marks = [`pod${uid}`, `pod${uid.replaceAll("-", "_")}`];
  const host = idOf(`${proc}/1/ns/net`);
  for (const entry of fs.readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let cgroups: string;
    try {
      cgroups = fs.readFileSync(`${proc}/${entry}/cgroup`, "utf8");
    } catch {
      continue;
    }
    if (!cgroups.split("\n").some((line) => marks.some((m) => line.includes(`/${m}/`) || line.endsWith(`/${m}`) || line.includes(`-${m}.slice`)))) continue;
    const id = idOf(`${proc}/${entry}/ns/net`);
    if (id && !(host && same(id, host))) return Number(entry);
  }
  return undefined;
}

/** The name of a pod's namespace found by its uid (see processOfPod), named by this forwarder when it has no name yet. */
export async function resolvePodNetns(uid: string, proc = "/proc"): Promise<string> {
  const pid = processOfPod(uid, proc);
  if (pid === undefined) throw new NsmError(400, `pod ${uid}: no process of that pod on this node has a network namespace of its own (is the pod running on this node, and is the forwarder hostPID?)`);
  return nameOf(idOf(`${proc}/${pid}/ns/net`)!, pid);
}

/** The namespace's name under /var/run/netns, else the name this forwarder gives it (ATTACHED_PREFIX + inode) through the process in it. */
async function nameOf(id: NamespaceId, pid: number): Promise<string> {
  const name = namedNetns(id);
  if (name) return name;
  const attached = `${ATTACHED_PREFIX}${id.ino}`;
  await netns.attach(attached, pid);
  return attached;
}

/**
 * The name of the namespace an inodeURL means: its name under /var/run/netns, else the name this
 * forwarder gives it (ATTACHED_PREFIX + inode) after finding a process in it through /proc.
 */
export async function resolveNetnsUrl(url: string): Promise<string> {
  const named = NAMED.exec(url)?.[1];
  if (named) return named;
  const id = namespaceIdOf(url);
  const name = namedNetns(id);
  if (name) return name;
  const pid = processIn(id);
  if (pid === undefined) throw new NsmError(400, `inodeURL ${url}: no process on this node is in that network namespace (is the pod running?)`);
  return nameOf(id, pid);
}

/** Removes a name this forwarder gave a namespace (the namespace lives on while a process is in it). */
export async function releaseNetnsName(name: string): Promise<void> {
  if (name.startsWith(ATTACHED_PREFIX)) await netns.del(name);
}
