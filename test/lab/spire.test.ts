// The lab's SPIRE for real: spire-server and spire-agent (v1.13 builds) in a temporary directory,
// the lab's registration entries, SVIDs told apart by the caller's gid, a restart that keeps the
// trust domain's CA and does not duplicate entries, and nothing left running after stop.
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processes } from "../../lib/processes.ts";
import { eventually } from "../../harness/eventually.ts";
import { ensureSpireBinaries } from "../../lab/spire/binaries.ts";
import type { SpireBinaries } from "../../lab/spire/binaries.ts";
import { FORWARDER_GID, LAB_IDENTITIES, LAB_TRUST_DOMAIN, labEntries, NSMGR_GID } from "../../lab/spire/identities.ts";
import { agentAliasId, parseEntries, startSpire } from "../../lab/spire/spire.ts";
import type { Spire } from "../../lab/spire/spire.ts";
import { X509Source } from "../../wire/spiffe/x509Source.ts";
import { freePort } from "../../lib/freePort.ts";

const run = promisify(execFile);
const fixture = fileURLToPath(new URL("./fixtures/svidAs.ts", import.meta.url));

describe("the lab's SPIRE", () => {
  let dir: string;
  let binaries: SpireBinaries;
  let spire: Spire | undefined;
  let port: number;
  const supervisors: ChildProcess[] = [];

  beforeAll(async () => {
    binaries = await ensureSpireBinaries((line) => console.log(line));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfm-spire-"));
    port = await freePort();
    spire = await startSpire({ dir, port, trustDomain: LAB_TRUST_DOMAIN, entries: labEntries(), binaries });
  }, 15 * 60_000);

  afterAll(async () => {
    for (const p of supervisors) p.kill("SIGKILL");
    await spire?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const svidAs = async (uid: number, gid: number) => {
    const { stdout } = await run(process.execPath, [fixture, `unix://${spire!.workloadSocket}`], { uid, gid, timeout: 30_000 });
    return JSON.parse(stdout.trim()) as { ok: boolean; spiffeId?: string; problem?: string; message?: string };
  };

  it("gives each lab role its SPIFFE ID by the caller's gid, and nothing to others", async () => {
    const mine = await X509Source.connect(`unix://${spire!.workloadSocket}`);
    try {
      expect(mine.current().spiffeId).toBe(LAB_IDENTITIES.operator);
      expect(mine.current().notAfter.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    } finally {
      mine.close();
    }
    expect(await svidAs(0, NSMGR_GID)).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.nsmgr });
    expect(await svidAs(0, FORWARDER_GID)).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.forwarder });
    const nobody = await svidAs(65534, 65534);
    expect(nobody.ok).toBe(false);
    expect(nobody.problem).toBe("no-identity");
  });

  it("reports both processes healthy, and stops both", async () => {
    const h = await spire!.health();
    expect(h.server.ok).toBe(true);
    expect(h.agent.ok).toBe(true);
    const pids = [h.server.pid, h.agent.pid];
    expect(pids.every((p) => typeof p === "number")).toBe(true);
    await spire!.stop();
    spire = undefined;
    const left = processes().filter((p) => pids.includes(p.pid) || p.cwd === path.resolve(dir));
    expect(left).toEqual([]);
    expect(fs.existsSync(path.join(dir, "agent.sock"))).toBe(false);
  });

  it("starts again on the same directory with the same CA and the same entries, once each", async () => {
    const bundleBefore = fs.readFileSync(path.join(dir, "bundle.pem"), "utf8");
    spire = await startSpire({ dir, port, trustDomain: LAB_TRUST_DOMAIN, entries: labEntries(), binaries });
    expect(fs.readFileSync(path.join(dir, "bundle.pem"), "utf8")).toBe(bundleBefore);
    const { stdout } = await run(binaries["spire-server"].path, ["entry", "show", "-socketPath", spire.serverSocket, "-output", "json"]);
    const entries = parseEntries(stdout);
    const workloads = entries.filter((e) => e.parentId === agentAliasId(LAB_TRUST_DOMAIN));
    expect(workloads.map((e) => e.spiffeId).sort()).toEqual(Object.values(LAB_IDENTITIES).sort());
    // One alias: the new agent's token; the previous one's went.
    expect(entries.filter((e) => e.spiffeId === agentAliasId(LAB_TRUST_DOMAIN))).toHaveLength(1);
    expect(await svidAs(0, FORWARDER_GID)).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.forwarder });
  }, 120_000);

  it("starts an agent or a server that died again, and the Workload API serves again", async () => {
    for (const which of ["agent", "server"] as const) {
      const pid = (await spire!.health())[which].pid!;
      process.kill(pid, "SIGKILL");
      await eventually(async () => {
        const h = await spire!.health();
        return h[which].ok && h[which].pid !== pid;
      }, { what: `the ${which} to run again`, timeoutMs: 30_000 });
    }
    expect(await svidAs(0, FORWARDER_GID)).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.forwarder });
  }, 120_000);

  it("takes over from a SPIRE whose supervisor was killed", async () => {
    await spire!.stop();
    spire = undefined;
    const parent = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/spireParent.ts", import.meta.url)), dir, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
    supervisors.push(parent);
    let out = "";
    parent.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes("READY") || parent.exitCode !== null, { what: "the supervisor's SPIRE", timeoutMs: 60_000 });
    expect(out).toContain("READY");
    const left = processes().filter((p) => p.cwd === path.resolve(dir)).map((p) => p.pid);
    expect(left.length).toBe(2);
    parent.kill("SIGKILL");
    spire = await startSpire({ dir, port, trustDomain: LAB_TRUST_DOMAIN, entries: labEntries(), binaries });
    const h = await spire.health();
    expect(h.server.ok && h.agent.ok).toBe(true);
    expect(processes().filter((p) => left.includes(p.pid))).toEqual([]);
    expect(await svidAs(0, NSMGR_GID)).toMatchObject({ ok: true, spiffeId: LAB_IDENTITIES.nsmgr });
  }, 120_000);
});
