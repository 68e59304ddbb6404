// Nova v2.1 on the wire, over NovaModel: microversions, servers, flavors and the few other calls
// clients make. POST /servers answers 202 and the server boots in the background; DELETE answers
// 204 once everything of the server is gone.
import { randomBytes } from "node:crypto";
import type http from "node:http";
import { ApiError, createJsonServer, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, ApiResponse, Route } from "../../lib/http/server.ts";
import { FLAVORS, findFlavor } from "./catalogData.ts";
import { hostUrl, novaError, requireToken } from "./common.ts";
import type { TokenValidator } from "./common.ts";
import { MAX_VERSION, MIN_VERSION, atLeast, requestedVersion, versionHeaders } from "./microversion.ts";
import type { Microversion } from "./microversion.ts";
import type { NovaModel } from "./novaModel.ts";
import { parseBootRequest, parseServerUpdate } from "./novaRequests.ts";
import { flavorView, links } from "./novaViews.ts";
import type { ServerViews } from "./novaViews.ts";
import type { ServerRecord } from "./servers.ts";

export interface NovaServerOptions {
  model: NovaModel;
  views: ServerViews;
  auth: TokenValidator | null;
}

export function createNovaServer(opts: NovaServerOptions): http.Server {
  const { model, views } = opts;
  const versionDoc = (base: string) => ({
    id: "v2.1",
    status: "CURRENT",
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: "2013-07-23T11:33:21Z",
    links: [{ rel: "self", href: `${base}/v2.1/` }, { rel: "describedby", type: "text/html", href: "http://docs.openstack.org/" }],
    "media-types": [{ base: "application/json", type: "application/vnd.openstack.compute+json;version=2.1" }],
  });
  const withVersion = (fn: (req: ApiRequest, v: Microversion) => ApiResponse | Promise<ApiResponse>) => async (req: ApiRequest): Promise<ApiResponse> => {
    const v = requestedVersion(req);
    const res = await fn(req, v);
    return { ...res, headers: { ...res.headers, ...versionHeaders(v) } };
  };
  const routes: Route[] = [
    { method: "GET", pattern: "/", handler: (req) => ({ body: { versions: [versionDoc(hostUrl(req))] } }) },
    { method: "GET", pattern: "/v2.1", handler: (req) => ({ body: { version: versionDoc(hostUrl(req)) } }) },
    {
      method: "POST",
      pattern: "/v2.1/servers",
      handler: withVersion((req, v) => {
        const id = model.create(parseBootRequest(objectBody(req, "server"), v));
        const base = hostUrl(req);
        return {
          status: 202,
          headers: { location: `${base}/v2.1/servers/${id}` },
          body: { server: { id, links: links(base, id), adminPass: randomBytes(9).toString("base64url"), "OS-DCF:diskConfig": "MANUAL", security_groups: [{ name: "default" }] } },
        };
      }),
    },
    {
      method: "GET",
      pattern: "/v2.1/servers",
      handler: withVersion((req) => ({ body: { servers: filtered(model.list(), req.query).map((s) => ({ id: s.id, name: s.name, links: links(hostUrl(req), s.id) })) } })),
    },
    { method: "GET", pattern: "/v2.1/servers/detail", handler: withVersion((req, v) => ({ body: { servers: filtered(model.list(), req.query).map((s) => views.server(hostUrl(req), s, v)) } })) },
    { method: "GET", pattern: "/v2.1/servers/:id", handler: withVersion((req, v) => ({ body: { server: views.server(hostUrl(req), model.show(req.params.id!), v) } })) },
    {
      method: "PUT",
      pattern: "/v2.1/servers/:id",
      handler: withVersion((req, v) => {
        const s = model.update(req.params.id!, parseServerUpdate(objectBody(req, "server"), v));
        // Before 2.75 the answer leaves out the extended attributes GET shows.
        return { status: 200, body: { server: views.server(hostUrl(req), s, v, { extended: atLeast(v, 75) }) } };
      }),
    },
    {
      method: "DELETE",
      pattern: "/v2.1/servers/:id",
      handler: withVersion(async (req) => {
        await model.delete(req.params.id!);
        return { status: 204 };
      }),
    },
    {
      method: "GET",
      pattern: "/v2.1/servers/:id/os-interface",
      handler: withVersion((req) => ({ body: { interfaceAttachments: views.interfaceAttachments(model.get(req.params.id!)) } })),
    },
    {
      method: "GET",
      pattern: "/v2.1/servers/:id/metadata",
      handler: withVersion((req) => ({ body: { metadata: model.get(req.params.id!).metadata } })),
    },
    {
      method: "PUT",
      pattern: "/v2.1/servers/:id/metadata/:key",
      handler: withVersion((req) => {
        const key = req.params.key!;
        const meta = objectBody(req, "meta");
        const keys = Object.keys(meta);
        if (keys.length !== 1) throw new ApiError(400, "Request body contains too many items");
        if (keys[0] !== key) throw new ApiError(400, "Request body and URI mismatch");
        const value = meta[key];
        if (typeof value !== "string" || value.length > 255) throw new ApiError(400, `Invalid input for field/attribute meta. Value: ${JSON.stringify(meta)}. ${JSON.stringify(value)} is not a string of at most 255 characters`);
        model.setMetadataItem(req.params.id!, key, value);
        return { status: 200, body: { meta: { [key]: value } } };
      }),
    },
    {
      method: "POST",
      pattern: "/v2.1/servers/:id/action",
      handler: withVersion((req) => {
        const body = objectBody(req);
        const actions = Object.keys(body);
        if (actions.length !== 1 || actions[0] !== "reboot") throw new ApiError(400, `The lab's Nova serves only the reboot action; got ${JSON.stringify(actions)}`);
        const reboot = objectBody(req, "reboot");
        model.reboot(req.params.id!, typeof reboot.type === "string" ? reboot.type.toUpperCase() : reboot.type);
        return { status: 202 };
      }),
    },
    { method: "GET", pattern: "/v2.1/flavors", handler: withVersion((req, v) => ({ body: { flavors: FLAVORS.map((f) => flavorView(hostUrl(req), f, v, false)) } })) },
    { method: "GET", pattern: "/v2.1/flavors/detail", handler: withVersion((req, v) => ({ body: { flavors: FLAVORS.map((f) => flavorView(hostUrl(req), f, v, true)) } })) },
    {
      method: "GET",
      pattern: "/v2.1/flavors/:id",
      handler: withVersion((req, v) => {
        const f = findFlavor(req.params.id!);
        if (!f) throw new ApiError(404, `Flavor ${req.params.id} could not be found.`);
        return { body: { flavor: flavorView(hostUrl(req), f, v, true) } };
      }),
    },
    { method: "GET", pattern: "/v2.1/flavors/:id/os-extra_specs", handler: withVersion(() => ({ body: { extra_specs: {} } })) },
    {
      method: "GET",
      pattern: "/v2.1/os-availability-zone",
      handler: withVersion(() => ({ body: { availabilityZoneInfo: [{ zoneName: "nova", zoneState: { available: true }, hosts: null }] } })),
    },
    {
      method: "GET",
      pattern: "/v2.1/limits",
      handler: withVersion(() => ({
        body: { limits: { rate: [], absolute: { maxTotalInstances: 1000, totalInstancesUsed: model.list().length, maxTotalCores: 10000, totalCoresUsed: 0, maxTotalRAMSize: 10_000_000, totalRAMUsed: 0, maxServerMeta: 128, maxPersonality: 5, maxPersonalitySize: 10240, maxImageMeta: 128, maxSecurityGroups: 10, maxSecurityGroupRules: 20, maxTotalKeypairs: 100, maxServerGroups: 10, maxServerGroupMembers: 10, maxTotalFloatingIps: 10, totalFloatingIpsUsed: 0, totalSecurityGroupsUsed: 0, totalServerGroupsUsed: 0 } } },
      })),
    },
  ];
  return createJsonServer({
    name: "nova",
    routes,
    before: requireToken(opts.auth, (req) => req.method === "GET" && ["/", "/v2.1", "/v2.1/"].includes(req.path)),
    renderError: (err, req) => {
      const out = novaError(err);
      let headers: Record<string, string> = {};
      try {
        if (req) headers = versionHeaders(requestedVersion(req));
      } catch {
        // the version itself was the problem; no echo
      }
      return { ...out, headers: { ...out.headers, ...headers } };
    },
  });
}

/** GET /servers filters: name (a regular expression, as Nova matches it), status, host. */
function filtered(list: ServerRecord[], q: URLSearchParams): ServerRecord[] {
  const name = q.get("name");
  if (name) {
    let re: RegExp;
    try {
      re = new RegExp(name);
    } catch {
      re = new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    }
    list = list.filter((s) => re.test(s.name));
  }
  const status = q.get("status");
  if (status) list = list.filter((s) => s.status === status.toUpperCase());
  const host = q.get("host") ?? q.get("node");
  if (host) list = list.filter((s) => s.host === host);
  return list;
}
