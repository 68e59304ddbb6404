// The lab's SPIRE configuration and entry reconciliation, without running SPIRE.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { agentConfig, checkSpireConfig, serverConfig, writeSpireConfig } from "../../lab/spire/config.ts";
import { LAB_IDENTITIES, labEntries } from "../../lab/spire/identities.ts";
import { entryChanges, parseEntries } from "../../lab/spire/spire.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("SPIRE configuration", () => {
  it("puts the server on its port and both sockets in the directory", () => {
    const o = { dir: "/run/lab/spire", port: 18081, trustDomain: "tfmesh.lab" };
    expect(serverConfig(o)).toContain('bind_port = "18081"');
    expect(serverConfig(o)).toContain('socket_path = "/run/lab/spire/server.sock"');
    expect(serverConfig(o)).toContain('trust_domain = "tfmesh.lab"');
    expect(agentConfig(o)).toContain('server_port = "18081"');
    expect(agentConfig(o)).toContain('socket_path = "/run/lab/spire/agent.sock"');
    expect(agentConfig(o)).toContain('WorkloadAttestor "unix"');
  });

  it("refuses a bad port, a trust domain SPIFFE does not allow and a socket path too long for unix sockets", () => {
    expect(checkSpireConfig({ dir: "/tmp/x", port: 0, trustDomain: "tfmesh.lab" })).toMatch(/port must be an integer 1-65535, got 0/);
    expect(checkSpireConfig({ dir: "/tmp/x", port: 8081, trustDomain: "TFMesh.Lab" })).toMatch(/trust domain "TFMesh.Lab" must be lowercase/);
    expect(checkSpireConfig({ dir: `/tmp/${"d".repeat(100)}`, port: 8081, trustDomain: "tfmesh.lab" })).toMatch(/longer than 107 bytes; choose a shorter directory/);
    expect(checkSpireConfig({ dir: "/tmp/x", port: 8081, trustDomain: "tfmesh.lab" })).toBeUndefined();
  });

  it("writes the files with the server's data private and the directory passable", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfm-spcfg-"));
    dirs.push(dir);
    const f = writeSpireConfig({ dir, port: 18081, trustDomain: "tfmesh.lab" });
    expect(fs.statSync(f.dir).mode & 0o777).toBe(0o711);
    expect(fs.statSync(f.serverData).mode & 0o777).toBe(0o700);
    expect(fs.statSync(f.serverConf).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(f.agentConf, "utf8")).toContain(`trust_bundle_path = "${f.bundle}"`);
  });
});

describe("registration entries", () => {
  const parent = "spiffe://tfmesh.lab/lab/agent";
  const shown = (id: string, spiffeId: string, selectors: string[], parentId = parent) => ({ id, spiffeId, parentId, selectors: [...selectors].sort() });

  it("reads `entry show -output json`", () => {
    const json = JSON.stringify({
      entries: [
        {
          id: "e1",
          spiffe_id: { trust_domain: "tfmesh.lab", path: "/ns/nsm-system/sa/nsmgr" },
          parent_id: { trust_domain: "tfmesh.lab", path: "/lab/agent" },
          selectors: [
            { type: "unix", value: "uid:0" },
            { type: "unix", value: "gid:64620" },
          ],
        },
      ],
    });
    expect(parseEntries(json)).toEqual([shown("e1", LAB_IDENTITIES.nsmgr, ["unix:gid:64620", "unix:uid:0"])]);
    expect(parseEntries("{}")).toEqual([]);
  });

  it("creates what is missing, removes what changed or is not wanted, and leaves other parents' entries alone", () => {
    const wanted = labEntries();
    const have = [
      shown("keep", LAB_IDENTITIES.nsmgr, ["unix:uid:0", "unix:gid:64620"]),
      shown("changed", LAB_IDENTITIES.forwarder, ["unix:uid:0", "unix:gid:1"]),
      shown("stray", "spiffe://tfmesh.lab/old", ["unix:uid:0"]),
      shown("alias", parent, ["spiffe_id:spiffe://tfmesh.lab/spire/agent/join_token/x"], "spiffe://tfmesh.lab/spire/agent/join_token/x"),
    ];
    const { create, remove } = entryChanges(wanted, have, parent);
    expect(create.map((e) => e.spiffeId).sort()).toEqual([LAB_IDENTITIES.forwarder, LAB_IDENTITIES.operator].sort());
    expect(remove.map((e) => e.id).sort()).toEqual(["changed", "stray"]);
    expect(entryChanges(wanted, [...have.filter((e) => e.id === "keep"), ...create.map((e, i) => shown(`n${i}`, e.spiffeId, e.selectors))], parent)).toEqual({ create: [], remove: [] });
  });
});
