// The body of POST /port (tungsten-fabric.md section 2), checked field by field.
import { isIpv4 } from "../../lib/ipv4.ts";
import { checkMac } from "../../lib/validate/mac.ts";
import { checkIfName } from "../../lib/validate/names.ts";
import { isUuid } from "../../lib/validate/uuid.ts";

const PORT_TYPE_VM = 0;
const PORT_TYPE_NAMESPACE = 1;

export interface PortRequest {
  id: string;
  instanceId: string;
  /** Required for VM ports (type 0). */
  vnId?: string;
  type: 0 | 1;
  mac: string;
  systemName: string;
  raw: Record<string, unknown>;
}

/** A request the agent refuses; the message names the field. */
export class PortRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PortRequestError";
  }
}

const lowerUuid = (v: unknown) => (typeof v === "string" && isUuid(v.toLowerCase()) ? v.toLowerCase() : undefined);

export function parsePortRequest(body: unknown, where = "port"): PortRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new PortRequestError(`${where}: expected a JSON object`);
  const raw = body as Record<string, unknown>;
  const id = lowerUuid(raw.id);
  if (!id) throw new PortRequestError(`${where}: "id" must be the VMI uuid, got ${JSON.stringify(raw.id)}`);
  const instanceId = lowerUuid(raw["instance-id"]);
  if (!instanceId) throw new PortRequestError(`${where} ${id}: "instance-id" must be the VM uuid, got ${JSON.stringify(raw["instance-id"])}`);
  const type = raw.type ?? PORT_TYPE_VM;
  if (type !== PORT_TYPE_VM && type !== PORT_TYPE_NAMESPACE) throw new PortRequestError(`${where} ${id}: "type" must be 0 (VM port) or 1 (namespace port), got ${JSON.stringify(type)}`);
  const macProblem = checkMac(raw["mac-address"]);
  if (macProblem) throw new PortRequestError(`${where} ${id}: "mac-address": ${macProblem}`);
  const vnRaw = raw["vn-id"];
  const vnId = lowerUuid(vnRaw);
  if (type === PORT_TYPE_VM && !vnId) throw new PortRequestError(`${where} ${id}: "vn-id" must be the VN uuid for a VM port (type 0), got ${JSON.stringify(vnRaw)}`);
  if (vnRaw !== undefined && vnRaw !== "" && !vnId) throw new PortRequestError(`${where} ${id}: "vn-id" must be a uuid, got ${JSON.stringify(vnRaw)}`);
  const nameProblem = checkIfName(raw["system-name"]);
  if (nameProblem) throw new PortRequestError(`${where} ${id}: "system-name": ${nameProblem}`);
  const ipRaw = raw["ip-address"];
  if (ipRaw !== undefined && ipRaw !== "" && !isIpv4(ipRaw)) throw new PortRequestError(`${where} ${id}: "ip-address" must be an IPv4 address, got ${JSON.stringify(ipRaw)}`);
  return {
    id,
    instanceId,
    ...(vnId ? { vnId } : {}),
    type,
    mac: (raw["mac-address"] as string).toLowerCase(),
    systemName: raw["system-name"] as string,
    raw: { ...raw, id, "instance-id": instanceId, type, "mac-address": (raw["mac-address"] as string).toLowerCase() },
  };
}

/** One object or an array of them; duplicates are refused so "all or nothing" stays meaningful. */
export function parsePortRequests(body: unknown): PortRequest[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new PortRequestError("expected a port object or a non-empty array of them");
  const parsed = list.map((b, i) => parsePortRequest(b, Array.isArray(body) ? `port[${i}]` : "port"));
  const seen = new Set<string>();
  for (const p of parsed) {
    if (seen.has(p.id)) throw new PortRequestError(`port ${p.id} appears twice in one request`);
    seen.add(p.id);
  }
  const names = new Map<string, string>();
  for (const p of parsed) {
    const other = names.get(p.systemName);
    if (other) throw new PortRequestError(`ports ${other} and ${p.id} both use interface ${p.systemName}`);
    names.set(p.systemName, p.id);
  }
  return parsed;
}
