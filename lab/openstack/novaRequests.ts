// What Nova accepts in the body of a server create or update, checked with Nova's messages before
// anything is looked up (as Nova's schema check runs first), and turned into what NovaModel takes.
import { isIPv6 } from "node:net";
import { isIpv4 } from "../../lib/ipv4.ts";
import { ApiError } from "../../lib/http/server.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import { findFlavor, findImage, refId } from "./catalogData.ts";
import type { Flavor, Image } from "./catalogData.ts";
import { atLeast } from "./microversion.ts";
import type { Microversion } from "./microversion.ts";
import type { ServerRecord } from "./servers.ts";

type Json = Record<string, unknown>;

export type NetworkRequest = { uuid?: string; port?: string; fixed_ip?: string };

/** What PUT /servers/{id} may change, and what a create may set besides the name. */
export type Editable = Partial<Pick<ServerRecord, "name" | "accessIPv4" | "accessIPv6" | "description">>;

export interface BootRequest {
  name: string;
  flavor: Flavor;
  image: Image;
  metadata: Record<string, string>;
  keyName: string | null;
  editable: Editable;
  /** "auto": the project's only network. */
  networks: NetworkRequest[] | "auto";
  /** As given; the scheduler checks it. */
  availabilityZone: unknown;
}

const bad = (msg: string) => new ApiError(400, msg);

/** Attributes PUT /servers/{id} may carry ("description" too from 2.19). */
const EDITABLE = ["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"];

/** POST /servers. */
export function parseBootRequest(body: Json, v: Microversion): BootRequest {
  const name = checkName(body.name);
  if (typeof body.flavorRef !== "string" && typeof body.flavorRef !== "number") throw bad("Invalid input for field/attribute flavorRef. 'flavorRef' is a required property.");
  const flavor = findFlavor(refId(String(body.flavorRef)));
  if (!flavor) throw bad("Invalid flavorRef provided.");
  if (typeof body.imageRef !== "string") throw bad("Invalid input for field/attribute imageRef. 'imageRef' is a required property (the lab boots images only).");
  const image = findImage(refId(body.imageRef));
  if (!image) throw bad("Can not find requested image");
  for (const k of ["min_count", "max_count"]) {
    if (body[k] !== undefined && Number(body[k]) !== 1) throw bad(`Invalid input for field/attribute ${k}: the lab creates one server per request.`);
  }
  const metadata = (body.metadata ?? {}) as Record<string, string>;
  if (typeof metadata !== "object" || Array.isArray(metadata) || Object.values(metadata).some((x) => typeof x !== "string")) {
    throw bad("Invalid input for field/attribute metadata. Must be an object of string values.");
  }
  return {
    name,
    flavor,
    image,
    metadata,
    keyName: typeof body.key_name === "string" ? body.key_name : null,
    editable: editableAttributes(body, v),
    networks: networkRequests(body, v),
    availabilityZone: body.availability_zone,
  };
}

/** PUT /servers/{id}: what Nova changes in place (name, accessIPv4/6, description from 2.19). */
export function parseServerUpdate(body: Json, v: Microversion): Editable {
  const allowed = new Set([...EDITABLE, ...(atLeast(v, 19) ? ["description"] : [])]);
  const unexpected = Object.keys(body).filter((k) => !allowed.has(k));
  if (unexpected.length) {
    const names = unexpected.map((k) => `'${k}'`).join(", ");
    throw bad(`Invalid input for field/attribute server. Value: ${JSON.stringify(body)}. Additional properties are not allowed (${names} ${unexpected.length === 1 ? "was" : "were"} unexpected)`);
  }
  const changes = editableAttributes(body, v);
  if (body.name !== undefined) changes.name = checkName(body.name);
  return changes;
}

/** Nova's "name" format: 1..255 printable characters, no whitespace at either end. */
function checkName(name: unknown): string {
  const shown = JSON.stringify(name ?? null);
  if (typeof name !== "string" || name.length < 1 || name.length > 255) {
    throw bad(`Invalid input for field/attribute name. Value: ${shown}. 'name' must be a string of 1 to 255 characters.`);
  }
  if (name.trim() !== name || /[\u0000-\u001f\u007f]/.test(name)) {
    throw bad(`Invalid input for field/attribute name. Value: ${shown}. An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.`);
  }
  return name;
}

/** accessIPv4/accessIPv6 (an address, or null/"" to clear) and, from 2.19, description (null clears). */
function editableAttributes(body: Json, v: Microversion): Editable {
  const out: Editable = {};
  const accessIp = (key: "accessIPv4" | "accessIPv6", valid: (s: string) => boolean) => {
    const value = body[key];
    if (value === undefined) return;
    if (value === null || value === "") {
      out[key] = null;
      return;
    }
    if (typeof value !== "string" || !valid(value.trim())) {
      throw bad(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(value)}. ${JSON.stringify(value)} is not a '${key === "accessIPv4" ? "ipv4" : "ipv6"}'`);
    }
    out[key] = value.trim();
  };
  accessIp("accessIPv4", isIpv4);
  accessIp("accessIPv6", isIPv6);
  const disk = body["OS-DCF:diskConfig"];
  if (disk !== undefined && disk !== "AUTO" && disk !== "MANUAL") {
    throw bad(`Invalid input for field/attribute OS-DCF:diskConfig. Value: ${JSON.stringify(disk)}. ${JSON.stringify(disk)} is not one of ['AUTO', 'MANUAL']`);
  }
  if (body.description !== undefined && atLeast(v, 19)) {
    const d = body.description;
    if (d !== null && (typeof d !== "string" || d.length > 255 || /[\u0000-\u001f\u007f]/.test(d))) {
      throw bad(`Invalid input for field/attribute description. Value: ${JSON.stringify(d)}. The description must be null or at most 255 printable characters.`);
    }
    out.description = d;
  }
  return out;
}

/** "networks": a list of {uuid, fixed_ip?} / {port}, "auto" or "none" (2.37), absent ("auto" before 2.37). */
function networkRequests(body: Json, v: Microversion): NetworkRequest[] | "auto" {
  const nets = body.networks;
  if (nets === undefined) {
    if (atLeast(v, 37)) throw bad("Invalid input for field/attribute server. 'networks' is a required property (microversion 2.37 and later).");
    return "auto";
  }
  if (nets === "auto" || nets === "none") {
    if (!atLeast(v, 37)) throw bad(`Invalid input for field/attribute networks. Value: ${nets}. "${nets}" needs microversion 2.37 or later.`);
    return nets === "none" ? [] : "auto";
  }
  if (!Array.isArray(nets)) throw bad(`Invalid input for field/attribute networks. Value: ${JSON.stringify(nets)}. Must be a list, "auto" or "none".`);
  return nets.map((n, i) => {
    if (!n || typeof n !== "object") throw bad(`Invalid input for field/attribute networks[${i}]: must be an object.`);
    const r = n as Json;
    if (r.port !== undefined) {
      if (typeof r.port !== "string" || !isUuid(r.port)) throw bad(`Invalid input for field/attribute port. Value: ${String(r.port)}.`);
      if (r.fixed_ip !== undefined) throw bad("Invalid input: fixed_ip cannot be combined with port.");
      return { port: r.port };
    }
    if (typeof r.uuid !== "string" || !isUuid(r.uuid)) throw bad(`Bad networks format: network uuid is not in proper format (${String(r.uuid)})`);
    if (r.fixed_ip !== undefined && (typeof r.fixed_ip !== "string" || !isIpv4(r.fixed_ip))) throw bad(`Invalid fixed IP address (${String(r.fixed_ip)})`);
    return r.fixed_ip !== undefined ? { uuid: r.uuid, fixed_ip: r.fixed_ip as string } : { uuid: r.uuid };
  });
}
