// Neutron v2.0 on the wire, over NeutronModel (which maps everything onto the TF store).
import type http from "node:http";
import { createJsonServer, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, ApiResponse, Route } from "../../lib/http/server.ts";
import { hostUrl, neutronError, neutronFault, requireToken } from "./common.ts";
import type { TokenValidator } from "./common.ts";
import { filterItems } from "./listQuery.ts";
import type { Json } from "./listQuery.ts";
import type { NeutronModel } from "./neutronModel.ts";

export interface NeutronServerOptions {
  model: NeutronModel;
  auth: TokenValidator | null;
  /** Whether a device id is a live Nova server (its ports cannot be deleted). */
  isServer: (deviceId: string) => boolean;
}

const EXTENSIONS = [
  ["binding", "Port Binding", "Expose port bindings of a virtual port to external application"],
  ["port-security", "Port Security", "Provides port security"],
  ["external-net", "Neutron external network", "Adds external network attribute to network resource."],
  ["net-mtu", "Network MTU", "Provides MTU attribute for a network resource."],
  ["project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."],
  ["standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"],
  ["standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."],
  ["standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."],
].map(([alias, name, description]) => ({ alias, name, description, updated: "2017-01-01T00:00:00-00:00", links: [] }));

/** Neutron accepts {"network": {...}} or a bulk {"networks": [...]}. */
function createOneOrMany(req: ApiRequest, one: string, create: (b: Json) => Json): ApiResponse {
  const b = objectBody(req);
  if (Array.isArray(b[`${one}s`])) {
    const items = b[`${one}s`] as unknown[];
    if (items.some((i) => !i || typeof i !== "object")) throw neutronFault(400, "BadRequest", `Bad ${one}s request: every item must be an object.`);
    return { status: 201, body: { [`${one}s`]: items.map((i) => create(i as Json)) } };
  }
  return { status: 201, body: { [one]: create(objectBody(req, one)) } };
}

export function createNeutronServer(opts: NeutronServerOptions): http.Server {
  const { model } = opts;
  const fixedIps = (item: Json, wanted: string) => {
    const [k, v] = wanted.split("=", 2);
    return ((item.fixed_ips as Json[] | undefined) ?? []).some((f) => f[k ?? ""] === v);
  };
  const routes: Route[] = [
    { method: "GET", pattern: "/", handler: (req) => ({ body: { versions: [{ status: "CURRENT", id: "v2.0", links: [{ href: `${hostUrl(req)}/v2.0/`, rel: "self" }] }] } }) },
    {
      method: "GET",
      pattern: "/v2.0",
      handler: (req) => ({
        body: {
          resources: ["network", "subnet", "port"].map((name) => ({ name, collection: `${name}s`, links: [{ href: `${hostUrl(req)}/v2.0/${name}s`, rel: "self" }] })),
        },
      }),
    },
    { method: "GET", pattern: "/v2.0/extensions", handler: () => ({ body: { extensions: EXTENSIONS } }) },
    {
      method: "GET",
      pattern: "/v2.0/extensions/:alias",
      handler: (req) => {
        const ext = EXTENSIONS.find((e) => e.alias === req.params.alias);
        if (!ext) throw neutronFault(404, "ExtensionNotFound", `Extension with alias ${req.params.alias} does not exist`);
        return { body: { extension: ext } };
      },
    },
    // networks
    { method: "GET", pattern: "/v2.0/networks", handler: (req) => ({ body: { networks: filterItems(model.listNetworkObjects().map((n) => model.networkView(n)), req.query) } }) },
    { method: "POST", pattern: "/v2.0/networks", handler: (req) => createOneOrMany(req, "network", (b) => model.createNetwork(b)) },
    { method: "GET", pattern: "/v2.0/networks/:id", handler: (req) => ({ body: { network: filterItems([model.networkView(model.getNetwork(req.params.id!))], fieldsOnly(req))[0] } }) },
    { method: "PUT", pattern: "/v2.0/networks/:id", handler: (req) => ({ body: { network: model.updateNetwork(req.params.id!, objectBody(req, "network")) } }) },
    {
      method: "DELETE",
      pattern: "/v2.0/networks/:id",
      handler: (req) => {
        model.deleteNetwork(req.params.id!);
        return { status: 204 };
      },
    },
    // subnets
    { method: "GET", pattern: "/v2.0/subnets", handler: (req) => ({ body: { subnets: filterItems(model.listSubnets().map((x) => model.subnetView(x.vn, x.subnet)), req.query) } }) },
    { method: "POST", pattern: "/v2.0/subnets", handler: (req) => createOneOrMany(req, "subnet", (b) => model.createSubnet(b)) },
    {
      method: "GET",
      pattern: "/v2.0/subnets/:id",
      handler: (req) => {
        const hit = model.findSubnet(req.params.id!);
        return { body: { subnet: filterItems([model.subnetView(hit.vn, hit.subnet)], fieldsOnly(req))[0] } };
      },
    },
    { method: "PUT", pattern: "/v2.0/subnets/:id", handler: (req) => ({ body: { subnet: model.updateSubnet(req.params.id!, objectBody(req, "subnet")) } }) },
    {
      method: "DELETE",
      pattern: "/v2.0/subnets/:id",
      handler: (req) => {
        model.deleteSubnet(req.params.id!);
        return { status: 204 };
      },
    },
    // ports
    { method: "GET", pattern: "/v2.0/ports", handler: (req) => ({ body: { ports: filterItems(model.listPortObjects().map((p) => model.portView(p)), req.query, { fixed_ips: fixedIps }) } }) },
    { method: "POST", pattern: "/v2.0/ports", handler: (req) => createOneOrMany(req, "port", (b) => model.portView(model.createPort(b))) },
    { method: "GET", pattern: "/v2.0/ports/:id", handler: (req) => ({ body: { port: filterItems([model.getPort(req.params.id!)], fieldsOnly(req))[0] } }) },
    { method: "PUT", pattern: "/v2.0/ports/:id", handler: (req) => ({ body: { port: model.updatePort(req.params.id!, objectBody(req, "port")) } }) },
    {
      method: "DELETE",
      pattern: "/v2.0/ports/:id",
      handler: (req) => {
        model.deletePort(req.params.id!, opts.isServer);
        return { status: 204 };
      },
    },
    // The lab has no security groups; an empty list keeps clients that look them up happy.
    { method: "GET", pattern: "/v2.0/security-groups", handler: () => ({ body: { security_groups: [] } }) },
  ];
  return createJsonServer({
    name: "neutron",
    routes,
    renderError: neutronError,
    before: requireToken(opts.auth, (req) => req.path === "/" || req.path === "/v2.0" || req.path === "/v2.0/"),
  });
}

/** A GET of one item honours ?fields= but no filters. */
function fieldsOnly(req: ApiRequest): URLSearchParams {
  const q = new URLSearchParams();
  for (const f of req.query.getAll("fields")) q.append("fields", f);
  return q;
}

