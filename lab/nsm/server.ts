// The lab's read-only JSON view of NSM (docs/contracts.md, "NSM HTTP API"): the registry's records
// and the manager's connections, for a person with curl. Everything that changes NSM is its gRPC
// API (grpc/). Errors are {"error": message} with the status the manager chose; toApiError is
// also how the gRPC front picks its codes.
import type http from "node:http";
import { ConnectionError, HttpError } from "../../lib/http/client.ts";
import { ApiError, createJsonServer } from "../../lib/http/server.ts";
import type { Handler, Route } from "../../lib/http/server.ts";
import { ChainError } from "../../nsm/chain.ts";
import { NsmError, rootCause } from "../../nsm/errors.ts";
import type { Manager } from "../../nsm/manager.ts";
import type { Registry } from "../../nsm/registry.ts";
import type { KeystoneCheck } from "../keystoneAuth.ts";

export interface NsmServerOptions {
  registry: Registry;
  manager: Manager;
  /** Where a connection found DOWN is reported, with the reason. */
  log?: (line: string) => void;
  /** The lab's Keystone token check; none with auth "noauth". */
  auth?: KeystoneCheck;
}

/** The status and message a failure answers with. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const cause = rootCause(err);
  const message = err instanceof Error ? err.message : String(err);
  if (cause instanceof NsmError) return new ApiError(cause.status, message);
  if (cause instanceof HttpError || cause instanceof ConnectionError) return new ApiError(502, message);
  if (err instanceof ChainError || err instanceof AggregateError) return new ApiError(500, message);
  return new ApiError(500, `internal error: ${message}`);
}

const guarded =
  (h: Handler): Handler =>
  async (req) => {
    try {
      return await h(req);
    } catch (err) {
      throw toApiError(err);
    }
  };

export function createNsmServer({ registry, manager, log = () => {}, auth }: NsmServerOptions): http.Server {
  const routes: Route[] = [
    { method: "GET", pattern: "/registry/network-services", handler: () => ({ body: registry.listServices() }) },
    {
      method: "GET",
      pattern: "/registry/network-services/:name",
      handler: (req) => ({ body: registry.requireService(req.params.name!) }),
    },
    {
      method: "GET",
      pattern: "/registry/network-service-endpoints",
      handler: (req) => ({ body: registry.listEndpoints(req.query.get("network_service") ?? undefined) }),
    },
    {
      method: "GET",
      pattern: "/registry/network-service-endpoints/:name",
      handler: (req) => {
        const e = registry.getEndpoint(req.params.name!);
        if (!e) throw new NsmError(404, `network service endpoint "${req.params.name}" is not registered`);
        return { body: e };
      },
    },
    { method: "GET", pattern: "/nsmgr/connections", handler: () => ({ body: manager.list() }) },
    {
      // One connection as its forwarder finds it now: state DOWN when the data plane it built broke.
      method: "GET",
      pattern: "/nsmgr/connections/:id",
      handler: async (req) => {
        const checked = await manager.check(req.params.id!);
        if (!checked) throw new NsmError(404, `connection "${req.params.id}" is not known`);
        if (checked.problem) log(`connection ${req.params.id} is DOWN: ${checked.problem}`);
        return { body: checked.connection };
      },
    },
  ];
  return createJsonServer({ name: "nsm", routes: routes.map((r) => ({ ...r, handler: guarded(r.handler) })), ...(auth ? { before: auth.require } : {}) });
}
