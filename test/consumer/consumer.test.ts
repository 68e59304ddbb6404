// tfmesh as a user gets it: `npm pack` of this checkout installed from the tarball into a Pulumi
// project of the user's own, outside the checkout, driven with the CLIs a user types (npx tfmesh,
// pulumi, tsc) in a clean environment. Proves the published package works as the README says:
// its declarations typecheck a program, `tfmesh lab up` starts the lab from the installed package,
// preview/up/refresh/destroy manage VMs, networks and pod attachments, the pod really pings the VM,
// state holds only small provider shims that name the package (so an upgraded package runs the
// state of the old one), and existing TF networks can be looked up and adopted.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as netns from "../../lib/kernel/netns.ts";
import { readEndpoints } from "../../lab/endpoints.ts";
import { stopDaemon, wipeKernel } from "../../lab/lifecycle.ts";
import type { Reachability } from "../../lab/reachability.ts";
import type { TfClient } from "../../wire/tf.ts";
import { endpointClients } from "../../harness/labClients.ts";
import { registerForSweep, sweepStaleLabs, testInstanceIdentity } from "../../harness/lab.ts";
import { EMPTY_LAB, NODE24, REPO, TSC, cleanEnv, parseLabCounts, run, show } from "./helpers.ts";
import type { CommandResult, LabCounts } from "./helpers.ts";

const HOOK_TIMEOUT = 300_000;
const STEP_TIMEOUT = 180_000;
const UPGRADE_VERSION = "0.2.1-upgrade.0";
/** The resource implementations every case-1 resource loads (dist/provider/impl/<kind>.js). */
const IMPL_KINDS = ["virtualNetwork", "networkService", "virtualMachine", "podAttachment"];

const { name: instance, prefix } = testInstanceIdentity();
const suffix = randomBytes(3).toString("hex");
const stack1 = `consumer-${suffix}`;
// (no "adopt" or "nope" in stack names: the failure tests look for those words in the output)
const stack2 = `legacy-${suffix}`;

let root = ""; // everything of this test lives below it (outside the checkout)
let project = ""; // the user's Pulumi project
let stateDir = ""; // the lab instance's state
let upgradeMarker = "";
let env: Record<string, string> = {};
let sweepRecord = "";
let tarball = "";
const stacksMade: string[] = [];

const inProject = (file: string, args: string[], timeoutMs?: number) => run(file, args, { cwd: project, env, ...(timeoutMs ? { timeoutMs } : {}) });
const npx = (...args: string[]) => inProject("npx", args);
const npm = (...args: string[]) => inProject("npm", args);
const pulumi = (...args: string[]) => inProject("pulumi", args);
const lab = (command: string, ...args: string[]) => npx("tfmesh", "lab", command, "--instance", instance, "--state-dir", stateDir, ...args);

function ok(r: CommandResult): CommandResult {
  expect(r.code, show(r)).toBe(0);
  return r;
}

async function labCounts(): Promise<LabCounts> {
  return parseLabCounts(ok(await lab("status")));
}

function writeProgram(source: string): void {
  fs.writeFileSync(path.join(project, "index.ts"), source);
}

/** The lab's TF API as an admin client would use it (credentials from endpoints.json). */
function tfClient(): TfClient {
  const e = readEndpoints(stateDir);
  if (!e) throw new Error(`no endpoints.json in ${stateDir}`);
  return endpointClients(e, { retries: 0 }).tf;
}

const CASE1_PROGRAM = `import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubernetesProvider } from "tfmesh/components";
import { NetworkService, PodAttachment, VirtualMachine, VirtualNetwork } from "tfmesh/provider";

const red = new VirtualNetwork("red", { name: "red", subnets: [{ cidr: "10.1.1.0/24", addrFromStart: true }] });
const service = new NetworkService("red", { name: "red", virtualNetwork: red.fqName });
const vm = new VirtualMachine("web", { name: "web", image: "cirros-0.6.2", flavor: "m1.tiny", networks: [red.uuid] });
const pod = new k8s.core.v1.Pod(
  "app",
  { metadata: { name: "app" }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "infinity"] }] } },
  { provider: kubernetesProvider() },
);
const attachment = new PodAttachment("app-red", { pod: pod.metadata.name, namespace: pod.metadata.namespace, networkService: service.name });

export const vmIp: pulumi.Output<string> = vm.ip;
export const podIp: pulumi.Output<string> = attachment.ip;
export const networkUuid: pulumi.Output<string> = red.uuid;
`;

const ADOPT_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { getVirtualNetwork, VirtualNetwork } from "tfmesh/provider";

const found = getVirtualNetwork({ fqName: "default-domain:admin:legacy" });
export const foundUuid = pulumi.output(found).uuid;
const legacy = new VirtualNetwork("legacy", { name: "legacy", adopt: true, subnets: [{ cidr: "10.9.9.0/24", addrFromStart: true }] });
export const adoptedUuid = legacy.uuid;
`;

const LOOKUP_MISSING_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { getVirtualNetwork } from "tfmesh/provider";

export const missingUuid = pulumi.output(getVirtualNetwork({ fqName: "default-domain:admin:nope" })).uuid;
`;

const ADOPT_MISSING_PROGRAM = `import { VirtualNetwork } from "tfmesh/provider";

const ghost = new VirtualNetwork("ghost", { name: "ghost", adopt: true, subnets: [{ cidr: "10.8.8.0/24" }] });
export const ghostUuid = ghost.uuid;
`;

/** A misspelt argument: the package's declarations must reject it. */
const TYPO_PROGRAM = `import { VirtualMachine } from "tfmesh/provider";

new VirtualMachine("typo", { name: "typo", image: "cirros-0.6.2", flavour: "m1.tiny", networks: [] });
`;

const writeJson = (file: string, value: unknown) => fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");

function tsconfig(files: string[]) {
  return {
    compilerOptions: {
      target: "es2024",
      module: "nodenext",
      moduleResolution: "nodenext",
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
    },
    files,
  };
}

const tsc = (config: string) => run(NODE24, [TSC, "-p", path.join(project, config)], { cwd: project, env });

async function startLab(): Promise<void> {
  // Auto ports are free when picked, but a test running in parallel may take one before the
  // daemon listens: then start over with a wiped instance (new ports).
  for (let attempt = 1; ; attempt++) {
    const up = await npx("tfmesh", "lab", "up", "--instance", instance, "--prefix", prefix, "--state-dir", stateDir, "--ports", "auto");
    if (up.code === 0) return;
    if (attempt >= 3 || !/is already in use on 127\.0\.0\.1/.test(up.stderr)) throw new Error(`tfmesh lab up failed\n${show(up)}`);
    await lab("down", "--wipe");
  }
}

beforeAll(async () => {
  await sweepStaleLabs();
  expect(fs.existsSync(NODE24), `Node 24 at ${NODE24}`).toBe(true);
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-consumer-"));
  expect(path.relative(REPO, root).startsWith(".."), `${root} is outside ${REPO}`).toBe(true);
  project = path.join(root, "project");
  stateDir = path.join(root, "lab-state");
  upgradeMarker = path.join(root, "upgrade-marker.log");
  for (const d of ["project", "pack", "backend", "pulumi-home", "tfmesh-home"]) fs.mkdirSync(path.join(root, d));
  sweepRecord = registerForSweep({ prefix, stateDir });
  env = cleanEnv({
    home: os.homedir(),
    pulumiHome: path.join(root, "pulumi-home"),
    backendDir: path.join(root, "backend"),
    tfmeshHome: path.join(root, "tfmesh-home"),
    endpointsFile: path.join(stateDir, "endpoints.json"),
  });

  // The package as it would be published (prepack builds dist/).
  const pack = await run("npm", ["pack", "--pack-destination", path.join(root, "pack")], { cwd: REPO, env });
  if (pack.code !== 0) throw new Error(`npm pack failed\n${show(pack)}`);
  const tarballs = fs.readdirSync(path.join(root, "pack")).filter((f) => f.endsWith(".tgz"));
  if (tarballs.length !== 1) throw new Error(`npm pack made ${JSON.stringify(tarballs)}\n${show(pack)}`);
  tarball = path.join(root, "pack", tarballs[0]!);

  // The user's project: their own package.json and Pulumi.yaml, tfmesh from the tarball.
  const versionOf = (pkg: string) => (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", "@pulumi", pkg, "package.json"), "utf8")) as { version: string }).version;
  const pulumiVersion = versionOf("pulumi");
  writeJson(path.join(project, "package.json"), {
    name: "tfmesh-consumer-test",
    private: true,
    type: "module",
    dependencies: { "@pulumi/pulumi": pulumiVersion, "@pulumi/kubernetes": versionOf("kubernetes"), tfmesh: `file:${tarball}` },
  });
  fs.writeFileSync(
    path.join(project, "Pulumi.yaml"),
    ["name: tfmesh-consumer-test", "runtime:", "  name: nodejs", "  options:", "    typescript: false", "main: index.ts", ""].join("\n"),
  );
  writeProgram(CASE1_PROGRAM);
  const install = await npm("install", "--no-audit", "--no-fund", "--prefer-offline");
  if (install.code !== 0) throw new Error(`npm install failed\n${show(install)}`);

  await startLab();
}, HOOK_TIMEOUT);

afterAll(async () => {
  // Whatever happened above, nothing of this test stays: stacks, the lab, its kernel state, files.
  try {
    if (project && fs.existsSync(path.join(project, "node_modules"))) {
      for (const s of stacksMade) {
        await pulumi("destroy", "--yes", "--non-interactive", "--stack", s).catch(() => undefined);
        await pulumi("stack", "rm", "--yes", "--force", "--non-interactive", "--stack", s).catch(() => undefined);
      }
      await lab("down", "--wipe").catch(() => undefined);
    }
  } finally {
    if (stateDir) await stopDaemon(stateDir, 10_000).catch(() => false);
    await wipeKernel(prefix);
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (sweepRecord) fs.rmSync(sweepRecord, { force: true });
  }
  expect(netns.list(`${prefix}-`)).toEqual([]);
}, HOOK_TIMEOUT);

describe("tfmesh installed from its tarball into a Pulumi project of the user's own", () => {
  let outputs: { vmIp?: string; podIp?: string; networkUuid?: string } = {};
  let legacyUuid = "";

  it("resolves tfmesh to the installed package's built JavaScript, not to the checkout", async () => {
    const r = ok(await inProject(NODE24, ["--input-type=module", "-e", 'process.stdout.write(import.meta.resolve("tfmesh/provider"))']));
    expect(r.stdout).toBe(`file://${path.join(project, "node_modules", "tfmesh", "dist", "provider", "index.js")}`);
    expect(ok(await npx("tfmesh", "version")).stdout.trim()).toBe(
      (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version,
    );
  });

  it("the program typechecks against the package's declarations, which reject a misspelt argument", async () => {
    writeJson(path.join(project, "tsconfig.json"), tsconfig(["index.ts"]));
    ok(await tsc("tsconfig.json"));

    fs.writeFileSync(path.join(project, "typo.ts"), TYPO_PROGRAM);
    writeJson(path.join(project, "tsconfig.typo.json"), tsconfig(["typo.ts"]));
    const typo = await tsc("tsconfig.typo.json");
    fs.rmSync(path.join(project, "typo.ts"));
    expect(typo.code, show(typo)).not.toBe(0);
    expect(typo.stdout, show(typo)).toMatch(/typo\.ts.*error TS\d+:.*'flavour'/);
  });

  it("pulumi preview plans the stack and creates nothing in the lab", async () => {
    ok(await pulumi("stack", "init", stack1, "--non-interactive"));
    stacksMade.push(stack1);
    const preview = ok(await pulumi("preview", "--non-interactive", "--stack", stack1));
    // The network, the service, the VM, the k8s pod, its attachment, the Kubernetes provider, the stack.
    expect(preview.stdout, show(preview)).toMatch(/\+ 7 to create/);
    expect(await labCounts()).toEqual(EMPTY_LAB);
    expect(netns.list(`${prefix}-`).filter((n) => /-(vm|pod)-/.test(n))).toEqual([]);
  }, STEP_TIMEOUT);

  it("pulumi up creates the network, the VM, the service, the pod and its attachment", async () => {
    const t0 = Date.now();
    const up = await pulumi("up", "--yes", "--non-interactive", "--skip-preview", "--stack", stack1);
    console.log(`consumer case 1: pulumi up took ${Date.now() - t0} ms`);
    ok(up);
    expect(up.stdout, show(up)).toMatch(/\+ 7 created/);

    const out = ok(await pulumi("stack", "output", "--json", "--stack", stack1));
    outputs = JSON.parse(out.stdout) as typeof outputs;
    expect(outputs.vmIp, show(out)).toMatch(/^10\.1\.1\.\d+$/);
    expect(outputs.podIp, show(out)).toMatch(/^10\.1\.1\.\d+$/);
    expect(outputs.podIp).not.toBe(outputs.vmIp);
    expect(outputs.networkUuid, show(out)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await labCounts()).toMatchObject({ virtualNetworks: 1, virtualMachines: 1, pods: 1, connections: 1 });
  }, STEP_TIMEOUT);

  it("the pod pings the VM over the TF network, and lab reach shows both directions reachable", async () => {
    expect(outputs.vmIp, "vmIp from the up").toBeDefined();
    const ping = ok(await lab("exec", "app", "--", "ping", "-c", "2", "-W", "1", outputs.vmIp!));
    expect(ping.stdout).toMatch(/[12] received/);

    const reach = ok(await lab("reach", "--json"));
    const result = JSON.parse(reach.stdout) as Reachability;
    const podToVm = result.pairs.find((p) => p.kind === "pod→vm" && p.from === "app" && p.to === "web");
    const vmToPod = result.pairs.find((p) => p.kind === "vm→pod" && p.from === "web" && p.to === "app");
    expect(podToVm?.reachable, show(reach)).toBe(true);
    expect(podToVm?.probes.find((p) => p.address === outputs.vmIp)?.ok, show(reach)).toBe(true);
    expect(vmToPod?.reachable, show(reach)).toBe(true);
    expect(vmToPod?.probes.find((p) => p.address === outputs.podIp)?.ok, show(reach)).toBe(true);
  }, STEP_TIMEOUT);

  it("state holds small provider shims that name the package, not the checkout or the project's path", async () => {
    const exported = ok(await pulumi("stack", "export", "--stack", stack1));
    const state = JSON.parse(exported.stdout) as { deployment: { resources?: Array<{ urn: string; inputs?: { __provider?: string } }> } };
    const shims = (state.deployment.resources ?? []).filter((r) => typeof r.inputs?.__provider === "string");
    expect(shims.map((r) => r.urn.split("::").pop()).sort()).toEqual(["app-red", "red", "red", "web"]);
    for (const r of shims) {
      const text = r.inputs!.__provider!;
      expect(text, r.urn).toContain("tfmesh/provider/impl/");
      expect(text.includes(REPO), `${r.urn} provider text names the checkout ${REPO}`).toBe(false);
      expect(text.includes(root), `${r.urn} provider text names the project's dir ${root}`).toBe(false);
      expect(Buffer.byteLength(text), r.urn).toBeLessThan(8000);
    }
  }, STEP_TIMEOUT);

  it("after an upgrade of the package, refresh runs the new version on the old state and finds nothing changed", async () => {
    // Version N+1: the same package with another version, and each resource implementation noting
    // in a file that it was loaded (so the refresh demonstrably ran the upgraded code).
    const work = path.join(root, "upgrade");
    fs.mkdirSync(work);
    ok(await run("tar", ["-xzf", tarball, "-C", work], { cwd: root, env }));
    const pkgDir = path.join(work, "package");
    const manifestFile = path.join(pkgDir, "package.json");
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as { version: string };
    manifest.version = UPGRADE_VERSION;
    writeJson(manifestFile, manifest);
    for (const kind of IMPL_KINDS) {
      const file = path.join(pkgDir, "dist", "provider", "impl", `${kind}.js`);
      expect(fs.existsSync(file), file).toBe(true);
      fs.appendFileSync(file, `\nimport { appendFileSync as __upgradeMarker } from "node:fs";\n__upgradeMarker(${JSON.stringify(upgradeMarker)}, ${JSON.stringify(`${kind}\n`)});\n`);
    }
    ok(await run("npm", ["pack", "--ignore-scripts", "--pack-destination", path.join(root, "pack")], { cwd: pkgDir, env }));
    const upgraded = path.join(root, "pack", `tfmesh-${UPGRADE_VERSION}.tgz`);
    expect(fs.existsSync(upgraded), upgraded).toBe(true);
    ok(await npm("install", "--no-audit", "--no-fund", "--prefer-offline", upgraded));
    const installed = JSON.parse(fs.readFileSync(path.join(project, "node_modules", "tfmesh", "package.json"), "utf8")) as { version: string };
    expect(installed.version).toBe(UPGRADE_VERSION);

    const refresh = await pulumi("refresh", "--yes", "--non-interactive", "--expect-no-changes", "--stack", stack1);
    ok(refresh);
    const loaded = fs.existsSync(upgradeMarker) ? new Set(fs.readFileSync(upgradeMarker, "utf8").split("\n").filter(Boolean)) : new Set<string>();
    expect([...loaded].sort(), `implementations the refresh loaded from ${UPGRADE_VERSION}\n${show(refresh)}`).toEqual([...IMPL_KINDS].sort());
  }, STEP_TIMEOUT);

  it("pulumi destroy leaves the lab empty: no TF object, VM, port, pod or NSM connection, no VM or pod namespace", async () => {
    const destroy = ok(await pulumi("destroy", "--yes", "--non-interactive", "--stack", stack1));
    expect(destroy.stdout, show(destroy)).toMatch(/- 7 deleted/);
    expect(await labCounts()).toEqual(EMPTY_LAB);
    const left = netns.list(`${prefix}-`);
    expect(left).toContain(`${prefix}-underlay`);
    const nodeNs = new RegExp(`^${prefix}-(underlay|compute-[a-z0-9-]+|k8s-[a-z0-9-]+)$`);
    expect(left.filter((n) => !nodeNs.test(n))).toEqual([]);
  }, STEP_TIMEOUT);

  describe("existing TF networks: lookup and adoption", () => {
    it("getVirtualNetwork finds a network made outside Pulumi, and adopt takes it over with the same uuid", async () => {
      const tf = tfClient();
      const created = await tf.create("virtual-network", {
        fq_name: ["default-domain", "admin", "legacy"],
        parent_type: "project",
        display_name: "legacy",
        network_ipam_refs: [
          {
            to: ["default-domain", "default-project", "default-network-ipam"],
            attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.9.9.0", ip_prefix_len: 24 }, addr_from_start: true, enable_dhcp: true }] },
          },
        ],
      });
      legacyUuid = created.uuid;

      writeProgram(ADOPT_PROGRAM);
      writeJson(path.join(project, "tsconfig.json"), tsconfig(["index.ts"]));
      ok(await tsc("tsconfig.json"));

      ok(await pulumi("stack", "init", stack2, "--non-interactive"));
      stacksMade.push(stack2);
      const up = ok(await pulumi("up", "--yes", "--non-interactive", "--skip-preview", "--stack", stack2));
      const out = ok(await pulumi("stack", "output", "--json", "--stack", stack2));
      const o = JSON.parse(out.stdout) as { foundUuid?: string; adoptedUuid?: string };
      expect(o.foundUuid, `${show(up)}\n${show(out)}`).toBe(legacyUuid);
      expect(o.adoptedUuid, show(out)).toBe(legacyUuid);
      expect(await labCounts()).toMatchObject({ virtualNetworks: 1 });
    }, STEP_TIMEOUT);

    it("destroy leaves the adopted network in TF", async () => {
      expect(legacyUuid, "the network made outside Pulumi").not.toBe("");
      ok(await pulumi("destroy", "--yes", "--non-interactive", "--stack", stack2));
      const tf = tfClient();
      const still = await tf.read("virtual-network", legacyUuid);
      expect(still.fq_name).toEqual(["default-domain", "admin", "legacy"]);

      await tf.delete("virtual-network", legacyUuid);
      expect(await tf.readByFqName("virtual-network", ["default-domain", "admin", "legacy"])).toBeUndefined();
    }, STEP_TIMEOUT);

    it("a lookup of a network that does not exist fails the preview, naming fqName and the name", async () => {
      writeProgram(LOOKUP_MISSING_PROGRAM);
      const preview = await pulumi("preview", "--non-interactive", "--stack", stack2);
      expect(preview.code, show(preview)).not.toBe(0);
      const said = preview.stdout + preview.stderr;
      expect(said, show(preview)).not.toMatch(/does not provide an export named/);
      expect(said, show(preview)).toMatch(/fqName/);
      expect(said, show(preview)).toMatch(/nope/);
    }, STEP_TIMEOUT);

    it("adopting a network that does not exist fails the preview, naming adopt, and creates nothing", async () => {
      writeProgram(ADOPT_MISSING_PROGRAM);
      const preview = await pulumi("preview", "--non-interactive", "--stack", stack2);
      expect(preview.code, show(preview)).not.toBe(0);
      expect(preview.stdout + preview.stderr, show(preview)).toMatch(/\badopt\b(?!-)/);
      expect(await tfClient().readByFqName("virtual-network", ["default-domain", "admin", "ghost"])).toBeUndefined();
      expect(await labCounts()).toEqual(EMPTY_LAB);
    }, STEP_TIMEOUT);
  });
});
