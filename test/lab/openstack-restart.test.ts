// A daemon restart keeps servers, ports and tokens, and finishes boots that were interrupted.
import { afterAll, describe, expect, it } from "vitest";
import { close } from "../../lib/http/server.ts";
import { eventually } from "../../harness/eventually.ts";
import { FakeVmRuntime, call, removeDir, startLab, stopLab, tempDir, token } from "./tf-harness.ts";
import type { Lab } from "./tf-harness.ts";

const dir = tempDir("tfmesh-restart-");
afterAll(() => removeDir(dir));

/** Stops a lab the way a killed daemon would: no waiting for boots in progress. */
async function crash(lab: Lab): Promise<void> {
  await Promise.all(lab.servers.map((s) => close(s)));
  lab.db.close();
}

describe("openstack across a restart", () => {
  it("keeps servers and tokens, and boots again what was still building", async () => {
    const hanging = new FakeVmRuntime();
    hanging.bootVm = () => new Promise<void>(() => {}); // the daemon dies during this boot
    const first = await startLab({ dir, vm: hanging });
    const t = await token(first);
    const H = { "x-auth-token": t, "x-openstack-nova-api-version": "2.60" };
    const net = (await call("POST", `${first.url.neutron}/v2.0/networks`, { network: { name: "persist" } }, H)).json.network;
    await call("POST", `${first.url.neutron}/v2.0/subnets`, { subnet: { network_id: net.id, ip_version: 4, cidr: "10.70.0.0/24" } }, H);
    const image = (await call("GET", `${first.url.glance}/v2/images`, undefined, H)).json.images[0].id;
    const r = await call("POST", `${first.url.nova}/v2.1/servers`, { server: { name: "survivor", imageRef: image, flavorRef: "1", networks: [{ uuid: net.id }] } }, H);
    const id = r.json.server.id;
    expect((await call("GET", `${first.url.nova}/v2.1/servers/${id}`, undefined, H)).json.server.status).toBe("BUILD");
    await crash(first);

    const second = await startLab({ dir });
    try {
      expect(second.os.keystone.validateToken(t)).toBe(true);
      const s = await eventually(async () => {
        const g = await call("GET", `${second.url.nova}/v2.1/servers/${id}`, undefined, H);
        return g.json.server.status === "ACTIVE" ? g.json.server : undefined;
      }, { what: "the interrupted boot to finish", intervalMs: 10 });
      expect(s.addresses.persist[0].addr).toBe("10.70.0.3");
      expect(second.vm.boots.map((b) => b.serverId)).toEqual([id]);
      expect((await call("GET", `${second.url.neutron}/v2.0/ports?device_id=${id}`, undefined, H)).json.ports).toHaveLength(1);
      expect((await call("DELETE", `${second.url.nova}/v2.1/servers/${id}`, undefined, H)).status).toBe(204);
    } finally {
      await stopLab(second, true);
    }
  });
});
