// Fake TF config API, as the lab's (lab/tf/server.ts over its ConfigStore) answers for virtual
// networks: a Keystone token required, fqname-to-id for the admin project, the default ipam and the
// virtual networks, create / read / update / delete of virtual networks in TF's object shape, the
// ipam subnets completed as TF's address manager does it (lab/tf/subnets.ts: gateway, DNS address
// and subnet uuid filled in and kept across updates, overlaps refused), and errors as plain text
// with TF's messages.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { ApiError, createJsonServer, objectBody } from "../../../lib/http/server.ts";
import type { ApiRequest } from "../../../lib/http/server.ts";
import { pyList } from "../../../lab/tf/errors.ts";
import { completeVnSubnets } from "../../../lab/tf/subnets.ts";
import type { VnSubnets } from "../../../lab/tf/subnets.ts";
import { PROJECT_FQ, PROJECT_UUID } from "./mount.ts";
import { requireKeystoneToken } from "../../../lab/keystoneAuth.ts";

export interface FakeVn {
  uuid: string;
  fq_name: string[];
  virtual_network_network_id: number;
  network_ipam_refs: Array<{ to: string[]; attr: { ipam_subnets: Array<Record<string, unknown>> } }>;
  display_name?: string;
  /** id_perms.created / last_modified. */
  created?: string;
  modified?: string;
}

export interface TfFakeState {
  vns: Map<string, FakeVn>;
}

export const DEFAULT_IPAM_FQ = ["default-domain", "default-project", "default-network-ipam"];
const DEFAULT_IPAM_UUID = "b0000000-0000-4000-8000-000000000001";

// TF's timestamps: microseconds, no zone.
const tfNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000");
const key = (fq: readonly string[]) => fq.join(":");

export function fakeTf(state: TfFakeState, opts: { validToken: (token: string | undefined) => boolean; baseUrl: () => string }): http.Server {
  let nextNetworkId = 1;
  const href = (type: string, uuid: string) => `${opts.baseUrl()}/${type}/${uuid}`;
  const ipams = new Map([[key(DEFAULT_IPAM_FQ), DEFAULT_IPAM_UUID]]);
  const vnByFq = (fq: readonly string[]) => [...state.vns.values()].find((v) => key(v.fq_name) === key(fq));

  const idOf = (type: string, fq: string[]): string | undefined => {
    if (type === "project") return key(fq) === key(PROJECT_FQ) ? PROJECT_UUID : undefined;
    if (type === "network-ipam") return ipams.get(key(fq));
    if (type === "virtual-network") return vnByFq(fq)?.uuid;
    return undefined;
  };
  const mustGet = (uuid: string, missing = `Unknown id: ${uuid}`) => {
    const vn = state.vns.get(uuid);
    if (!vn) throw new ApiError(404, missing);
    return vn;
  };
  // The refs as given, each ipam resolved (404 in TF's words), the subnets completed.
  const ipamRefs = (refs: unknown, previous: FakeVn["network_ipam_refs"] = []): FakeVn["network_ipam_refs"] => {
    if (refs === undefined || refs === null) return [];
    if (!Array.isArray(refs)) throw new ApiError(400, "Bad Request: network_ipam_refs must be a list");
    const given = refs as Array<{ to: string[]; attr?: VnSubnets }>;
    for (const r of given) if (!Array.isArray(r.to) || !ipams.has(key(r.to))) throw new ApiError(404, `Name ${pyList(Array.isArray(r.to) ? r.to : [String(r.to)])} not found`);
    const completed = completeVnSubnets(
      given.map((r) => r.attr ?? {}),
      previous.map((r) => r.attr as VnSubnets),
    );
    return given.map((r, i) => ({ to: r.to, attr: completed[i] as FakeVn["network_ipam_refs"][number]["attr"] }));
  };

  const view = (vn: FakeVn) => {
    const hex = vn.uuid.replace(/-/g, "");
    return {
      uuid: vn.uuid,
      name: vn.fq_name.at(-1),
      fq_name: vn.fq_name,
      parent_type: "project",
      parent_uuid: PROJECT_UUID,
      parent_href: href("project", PROJECT_UUID),
      href: href("virtual-network", vn.uuid),
      id_perms: {
        enable: true,
        description: null,
        created: vn.created ?? null,
        creator: null,
        user_visible: true,
        last_modified: vn.modified ?? vn.created ?? null,
        permissions: { owner: "cloud-admin", owner_access: 7, other_access: 7, group: "cloud-admin-group", group_access: 7 },
        uuid: { uuid_mslong: Number(BigInt(`0x${hex.slice(0, 16)}`)), uuid_lslong: Number(BigInt(`0x${hex.slice(16)}`)) },
      },
      perms2: { owner: "cloud-admin", owner_access: 7, global_access: 0, share: [] },
      display_name: vn.display_name ?? vn.fq_name.at(-1),
      virtual_network_network_id: vn.virtual_network_network_id,
      annotations: { key_value_pair: [] },
      network_ipam_refs: vn.network_ipam_refs.map((r) => {
        const uuid = ipams.get(key(r.to)) ?? "";
        return { to: r.to, uuid, attr: r.attr, href: href("network-ipam", uuid) };
      }),
    };
  };

  return createJsonServer({
    name: "fake-tf",
    before: requireKeystoneToken(opts.validToken).require,
    renderError: (err) => ({ status: err.status, text: err.message }),
    routes: [
      {
        method: "POST",
        pattern: "/fqname-to-id",
        handler: (req) => {
          const b = objectBody(req) as { type?: unknown; fq_name?: unknown };
          const fq = Array.isArray(b.fq_name) ? (b.fq_name as string[]) : [String(b.fq_name)];
          const uuid = idOf(String(b.type), fq);
          if (!uuid) throw new ApiError(404, `Name ${pyList(fq)} not found`);
          return { body: { uuid } };
        },
      },
      {
        method: "POST",
        pattern: "/virtual-networks",
        handler: (req) => {
          const b = objectBody(req, "virtual-network") as { fq_name?: unknown; network_ipam_refs?: unknown; display_name?: unknown };
          if (!Array.isArray(b.fq_name) || b.fq_name.length < 2) throw new ApiError(400, `Invalid fq-name for object with parent_type project: ${pyList(Array.isArray(b.fq_name) ? b.fq_name : [])}`);
          const fq = b.fq_name as string[];
          if (key(fq.slice(0, -1)) !== key(PROJECT_FQ)) throw new ApiError(400, `Parent ${pyList(fq.slice(0, -1))} type project does not exist`);
          const existing = vnByFq(fq);
          if (existing) throw new ApiError(409, `${pyList(fq)} already exists with uuid: ${existing.uuid}`);
          const now = tfNow();
          const vn: FakeVn = {
            uuid: randomUUID(),
            fq_name: fq,
            virtual_network_network_id: nextNetworkId++,
            network_ipam_refs: ipamRefs(b.network_ipam_refs),
            ...(typeof b.display_name === "string" ? { display_name: b.display_name } : {}),
            created: now,
            modified: now,
          };
          state.vns.set(vn.uuid, vn);
          return {
            body: {
              "virtual-network": { name: fq.at(-1), fq_name: fq, uuid: vn.uuid, href: href("virtual-network", vn.uuid), parent_type: "project", parent_uuid: PROJECT_UUID, parent_href: href("project", PROJECT_UUID) },
            },
          };
        },
      },
      { method: "GET", pattern: "/virtual-network/:uuid", handler: (req) => ({ body: { "virtual-network": view(mustGet(req.params.uuid!)) } }) },
      {
        method: "PUT",
        pattern: "/virtual-network/:uuid",
        handler: (req) => {
          const vn = mustGet(req.params.uuid!);
          const b = objectBody(req, "virtual-network") as { network_ipam_refs?: unknown; display_name?: unknown; fq_name?: unknown };
          if (b.fq_name != null && key(b.fq_name as string[]) !== key(vn.fq_name)) throw new ApiError(400, `Bad Request, fq_name cannot be changed from ${pyList(vn.fq_name)}`);
          if (b.network_ipam_refs !== undefined) vn.network_ipam_refs = ipamRefs(b.network_ipam_refs, vn.network_ipam_refs);
          if (typeof b.display_name === "string") vn.display_name = b.display_name;
          vn.modified = tfNow();
          return { body: { "virtual-network": { uuid: vn.uuid, href: href("virtual-network", vn.uuid) } } };
        },
      },
      {
        method: "DELETE",
        pattern: "/virtual-network/:uuid",
        handler: (req) => {
          mustGet(req.params.uuid!, `ID ${req.params.uuid} does not exist`);
          state.vns.delete(req.params.uuid!);
          return { text: "" };
        },
      },
    ],
  });
}
