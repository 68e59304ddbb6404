// A test process that dies without cleaning up (crash, SIGKILL, timeout) must not leave its lab
// behind: the daemon notices its parent is gone and removes its namespaces and state itself.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import * as netns from "../../lib/kernel/netns.ts";
import { stopDaemon, wipeKernel } from "../../lab/lifecycle.ts";
import { eventually } from "../../harness/eventually.ts";
import { LAB_TIMEOUT, testInstanceIdentity } from "../../harness/lab.ts";

const PARENT = new URL("../../harness/labParent.ts", import.meta.url).pathname;
const { name, prefix } = testInstanceIdentity();
const base = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-orphan-"));
const stateDir = path.join(base, "state");

afterAll(async () => {
  await stopDaemon(stateDir, 5000).catch(() => false);
  await wipeKernel(prefix);
  fs.rmSync(base, { recursive: true, force: true });
}, LAB_TIMEOUT);

it(
  "removes the lab of a test process that was killed",
  async () => {
    const parent = spawn(process.execPath, [PARENT, name, prefix, stateDir], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    parent.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes("READY") || parent.exitCode !== null, { what: "the lab to become healthy", timeoutMs: LAB_TIMEOUT });
    expect(out).toContain(`READY ${prefix}`);
    expect(netns.list(`${prefix}-`)).toContain(`${prefix}-underlay`);

    parent.kill("SIGKILL");
    await eventually(() => netns.list(`${prefix}-`).length === 0 && !fs.existsSync(stateDir), { what: "the orphaned lab to remove itself" });
    expect(netns.list(`${prefix}-`)).toEqual([]);
  },
  LAB_TIMEOUT,
);
