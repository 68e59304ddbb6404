// One vRouter agent's port API (tungsten-fabric.md section 2) over node:http: POST /port (one
// object or an array, all or nothing), GET /port/<uuid>, DELETE /port/<uuid>. Errors use the
// agent's wire shape, {"error": "{ <message> }"}, with 500 as the agent answers them.
import type http from "node:http";
import { ApiError, createJsonServer } from "../../lib/http/server.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import type { VRouterAgents } from "./agents.ts";
import { parsePortRequests, PortRequestError } from "./portRequest.ts";

export function createAgentServer(node: string, agents: VRouterAgents): http.Server {
  const uuidParam = (raw: string | undefined): string => {
    const u = (raw ?? "").toLowerCase();
    if (!isUuid(u)) throw new ApiError(500, `invalid port uuid ${JSON.stringify(raw)}`);
    return u;
  };
  return createJsonServer({
    name: `vrouter-agent ${node}`,
    renderError: (err) => ({ status: err.status, body: { error: `{ ${err.message} }` } }),
    routes: [
      {
        method: "POST",
        pattern: "/port",
        handler: async (req) => {
          try {
            await agents.plug(node, parsePortRequests(req.body));
          } catch (e) {
            if (e instanceof PortRequestError) throw new ApiError(500, e.message);
            throw e;
          }
          return { body: {} };
        },
      },
      {
        method: "GET",
        pattern: "/port/:uuid",
        handler: async (req) => {
          const port = await agents.liveView(node, uuidParam(req.params.uuid));
          if (!port) throw new ApiError(404, "Not Found");
          return { body: port };
        },
      },
      {
        method: "DELETE",
        pattern: "/port/:uuid",
        handler: async (req) => {
          await agents.unplug(node, uuidParam(req.params.uuid));
          return { body: {} };
        },
      },
    ],
  });
}
