// `tfmesh lab <command>` checks the machine before it starts: Node.js >= 24, root where the lab
// builds namespaces, and the kernel tools; each problem says what to install or do.
import { describe, expect, it } from "vitest";
import { prerequisiteProblems, requirementOf } from "../../cli/prerequisites.ts";
import type { Machine } from "../../cli/prerequisites.ts";
import type { Program } from "../../lib/kernel/run.ts";

const PACKAGE: Record<Program, string> = { ip: "iproute2", bridge: "iproute2", sysctl: "procps", ping: "iputils-ping", arping: "iputils-arping" };

function machine(over: Partial<Machine> & { absent?: Program[] } = {}): Machine {
  const absent = over.absent ?? [];
  return {
    uid: over.uid ?? 0,
    nodeVersion: over.nodeVersion ?? "24.21.0",
    missing: (programs) => programs.filter((p) => absent.includes(p)).map((program) => ({ program, package: PACKAGE[program] })),
  };
}

describe("tfmesh lab prerequisites", () => {
  it("a complete machine has no problem for any command", () => {
    for (const command of ["up", "down", "status", "topology", "reach", "exec"]) {
      expect(prerequisiteProblems(command, requirementOf(command, { wipe: true }), machine())).toEqual([]);
    }
  });

  it("up without iproute2 and arping names the programs and the one apt-get line that brings them", () => {
    const problems = prerequisiteProblems("up", requirementOf("up"), machine({ absent: ["ip", "bridge", "arping"] }));
    expect(problems).toEqual([
      '"tfmesh lab up" needs ip (iproute2), bridge (iproute2), arping (iputils-arping), which are not installed: apt-get install -y iproute2 iputils-arping',
    ]);
  });

  it("reach needs ping; status and topology only read the daemon and need nothing", () => {
    expect(prerequisiteProblems("reach", requirementOf("reach"), machine({ absent: ["ping"] }))).toEqual([
      '"tfmesh lab reach" needs ping (iputils-ping), which is not installed: apt-get install -y iputils-ping',
    ]);
    for (const command of ["status", "topology"]) {
      expect(prerequisiteProblems(command, requirementOf(command), machine({ uid: 1000, absent: ["ip", "ping", "arping", "bridge", "sysctl"] }))).toEqual([]);
    }
  });

  it("commands that build or enter namespaces must run as root; down needs it only with --wipe", () => {
    const user = machine({ uid: 1000 });
    expect(prerequisiteProblems("up", requirementOf("up"), user)).toEqual([expect.stringMatching(/^"tfmesh lab up" must run as root: .*sudo/)]);
    expect(prerequisiteProblems("exec", requirementOf("exec"), user)).toHaveLength(1);
    expect(prerequisiteProblems("down", requirementOf("down"), user)).toEqual([]);
    expect(prerequisiteProblems("down", requirementOf("down", { wipe: true }), user)).toHaveLength(1);
  });

  it("an old Node.js is named with the version it needs", () => {
    expect(prerequisiteProblems("status", requirementOf("status"), machine({ nodeVersion: "20.20.2" }))).toEqual([
      expect.stringMatching(/^Node\.js 20\.20\.2 is too old: tfmesh needs Node\.js >= 24/),
    ]);
  });
});
