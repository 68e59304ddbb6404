// Lab instances and scratch namespaces for benchmarks, built on the test fixture (own name, kernel
// prefix, free ports, temp state dir; the daemon wipes itself if this process dies) and tracked
// for cleanup on errors and Ctrl-C.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as netns from "../lib/kernel/netns.ts";
import { wipeKernel } from "../lab/lifecycle.ts";
import { registerForSweep, startLab, testInstanceIdentity } from "../harness/lab.ts";
import type { TestLab } from "../harness/lab.ts";
import { labClients } from "../harness/labClients.ts";
import type { LabClients } from "../harness/labClients.ts";
import { track } from "./cleanup.ts";

/** Every kernel prefix this run used; the run ends by checking that none of them is left. */
export const usedPrefixes = new Set<string>();

/** Namespaces of this run that still exist. */
export function leftoverNamespaces(): string[] {
  return netns.list().filter((n) => [...usedPrefixes].some((p) => n.startsWith(`${p}-`)));
}

export interface BenchLab extends LabClients {
  lab: TestLab;
  /** Stops the daemon and removes the instance (kernel and state). Idempotent. */
  stop(): Promise<void>;
}

/** `kubernetes` for benchmarks that need pods: they are Kubernetes pods, run by the lab's kubelet. */
export async function startBenchLab(name: string, opts: { kubernetes?: boolean } = {}): Promise<BenchLab> {
  const lab = await startLab({ name, ...opts });
  usedPrefixes.add(lab.prefix);
  const stop = track(`lab ${lab.name} (${lab.prefix})`, () => lab.stop());
  return { lab, ...labClients(lab), stop };
}

/** Namespaces outside any lab ("<prefix>-<suffix>"), removed on release and swept if this process dies. */
export interface Scratch {
  prefix: string;
  netns(suffix: string): Promise<string>;
  release(): Promise<void>;
}

export function scratchNamespaces(): Scratch {
  const { prefix } = testInstanceIdentity("bench-scratch");
  usedPrefixes.add(prefix);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-bench-scratch-"));
  const registryFile = registerForSweep({ prefix, stateDir });
  const release = track(`scratch namespaces ${prefix}-*`, async () => {
    try {
      await wipeKernel(prefix);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
      fs.rmSync(registryFile, { force: true });
    }
  });
  return {
    prefix,
    async netns(suffix) {
      const name = `${prefix}-${suffix}`;
      await netns.add(name);
      return name;
    },
    release,
  };
}
