// The vRouter agent port client against a server speaking the agent's wire format.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpError } from "../../lib/http/client.ts";
import { ApiError, close, createJsonServer, listen } from "../../lib/http/server.ts";
import { agentPort, VrouterAgentClient } from "../../wire/vrouterAgent.ts";

const ports = new Map<string, Record<string, unknown>>();
const server = createJsonServer({
  name: "agent",
  routes: [
    {
      method: "POST",
      pattern: "/port",
      handler: (req) => {
        const list = (Array.isArray(req.body) ? req.body : [req.body]) as Array<Record<string, unknown>>;
        if (list.some((p) => p.type === 0 && !p["vn-id"])) throw new ApiError(500, "{ vn-id is required for a VM port }");
        for (const p of list) ports.set(p.id as string, p);
        return { body: {} };
      },
    },
    {
      method: "GET",
      pattern: "/port/:id",
      handler: (req) => {
        const p = ports.get(req.params.id!);
        if (!p) throw new ApiError(404, "{ Not Found }");
        return { body: { ...p, plen: 24, gateway: "10.1.1.254" } };
      },
    },
    { method: "DELETE", pattern: "/port/:id", handler: (req) => (ports.delete(req.params.id!), { body: {} }) },
  ],
});
let agent: VrouterAgentClient;

beforeAll(async () => {
  agent = new VrouterAgentClient({ baseUrl: `http://127.0.0.1:${await listen(server, 0)}`, retries: 0 });
});
afterAll(() => close(server));

const port = agentPort({
  id: "3f0c2a1e-0000-4000-8000-000000000001",
  "instance-id": "3f0c2a1e-0000-4000-8000-000000000002",
  "ip-address": "10.1.1.5",
  "vn-id": "3f0c2a1e-0000-4000-8000-000000000003",
  "display-name": "nsm-c1",
  "vm-project-id": "3f0c2a1e-0000-4000-8000-000000000004",
  "mac-address": "02:3f:0c:2a:1e:00",
  "system-name": "tap3f0c2a1e000",
});

describe("vRouter agent client", () => {
  it("plugs, reads and unplugs a port with the agent's field names; unknown ports read as undefined", async () => {
    expect(port).toMatchObject({ type: 0, "ip6-address": "", "rx-vlan-id": -1, "tx-vlan-id": -1 });
    await agent.addPort(port);
    expect(await agent.getPort(port.id.toUpperCase())).toMatchObject({ "system-name": "tap3f0c2a1e000", plen: 24, gateway: "10.1.1.254" });
    await agent.deletePort(port.id);
    expect(await agent.getPort(port.id)).toBeUndefined();
    await agent.deletePort(port.id);
  });

  it("surfaces the agent's error message", async () => {
    const err = (await agent.addPort({ ...port, "vn-id": "" }).catch((e: unknown) => e)) as HttpError;
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(500);
    expect(err.serverMessage).toBe("{ vn-id is required for a VM port }");
  });
});
