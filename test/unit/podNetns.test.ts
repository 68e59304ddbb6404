// nsm/netnsUrl.ts processOfPod: a pod's process found by the uid in its cgroup path, in both of the
// kubelet's cgroup drivers' spellings, skipping processes that share the node's namespace.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processOfPod } from "../../nsm/netnsUrl.ts";

const proc = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-proc-"));
const UID = "4a0eef8b-c3ce-43d6-a1c8-d379918a4c58";

/** A fake /proc/<pid> with its cgroup file and a ns/net file (a hard link shares the inode: the same namespace). */
function fakeProcess(pid: number, cgroup: string, sameNetnsAs?: number): void {
  const dir = path.join(proc, String(pid), "ns");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(proc, String(pid), "cgroup"), cgroup);
  if (sameNetnsAs !== undefined) fs.linkSync(path.join(proc, String(sameNetnsAs), "ns", "net"), path.join(dir, "net"));
  else fs.writeFileSync(path.join(dir, "net"), "");
}

afterAll(() => fs.rmSync(proc, { recursive: true, force: true }));

describe("processOfPod", () => {
  fakeProcess(1, "0::/init.scope\n");
  fakeProcess(10, "0::/system.slice/containerd.service\n");
  // A hostNetwork container of the pod: the node's own namespace, never the answer.
  fakeProcess(20, `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice/cri-containerd-aa.scope\n`, 1);
  fakeProcess(30, `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice/cri-containerd-bb.scope\n`);
  fakeProcess(40, `11:pids:/kubepods/burstable/pod${UID}/0123abcd\n0::/\n`);

  it("finds the pod's process with a namespace of its own (systemd driver: pod<uid with _>.slice)", () => {
    expect([30, 40]).toContain(processOfPod(UID, proc));
  });

  it("finds it with the cgroupfs driver (/kubepods/<qos>/pod<uid>/<container>)", () => {
    fs.rmSync(path.join(proc, "30"), { recursive: true });
    expect(processOfPod(UID, proc)).toBe(40);
  });

  it("answers undefined for a pod with no process here, and for one whose processes share the node's namespace", () => {
    expect(processOfPod("00000000-0000-4000-8000-000000000000", proc)).toBeUndefined();
    fs.rmSync(path.join(proc, "40"), { recursive: true });
    expect(processOfPod(UID, proc)).toBeUndefined();
  });
});
