// The vRouter agent API stays TF's (node-local, no auth) and in the lab it is reachable only where
// it is on a real node: inside its node's netns at 127.0.0.1:9091 (the node's relay). The host has
// no TCP port for it; the lab's own host-side tools reach it through its root-only unix socket.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unixSocketOf } from "../../lib/http/client.ts";
import { NODE_AGENT_PORT } from "../../lab/endpoints.ts";
import { VrouterAgentClient } from "../../wire/vrouterAgent.ts";
import { labPod } from "../../harness/kube.ts";
import type { LabPod } from "../../harness/kube.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

let lab: TestLab;
let pod: LabPod;

// An agent-only answer: the agent refuses a port id that is not a uuid with its own error shape.
const PROBE = "/port/not-a-uuid";
const AGENT_ANSWER = `500 {"error":"{ invalid port uuid \\"not-a-uuid\\" }"}`;

/** GET PROBE over TCP or a unix socket: "<status> <body>", or the error's code. */
function probe(where: { port: number } | { socketPath: string }): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ ...("port" in where ? { host: "127.0.0.1", port: where.port } : { socketPath: where.socketPath }), path: PROBE, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
      res.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** GET PROBE at 127.0.0.1:<port> from inside a netns, with this Node in that netns. */
function probeFrom(netns: string, port: number): Promise<string> {
  const script = `fetch("http://127.0.0.1:${port}${PROBE}").then(async (r) => console.log(r.status, await r.text()), (e) => console.log(e.cause?.code ?? e.message))`;
  return run("ip", ["netns", "exec", netns, process.execPath, "-e", script]);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", () => resolve(out.trim()));
  });
}

const socketOf = (node: string) => unixSocketOf(lab.endpoints.agents[node]!)!;

beforeAll(async () => {
  lab = await startLab({ kubernetes: true });
  pod = labPod(await lab.createPod("iso", { node: "k8s-1" }));
}, LAB_TIMEOUT);

afterAll(() => lab?.stop(), LAB_TIMEOUT);

describe("the vRouter agent API", () => {
  it("is named in endpoints.json by each node's unix socket under the state dir", () => {
    const nodes = [...lab.config.computeNodes, ...lab.config.k8sNodes];
    expect(lab.endpoints.agents).toEqual(Object.fromEntries(nodes.map((n) => [n, `unix://${lab.stateDir}/sock/agent-${n}.sock`])));
  });

  it("answers the host's tools through that socket", async () => {
    for (const node of Object.keys(lab.endpoints.agents)) expect(await probe({ socketPath: socketOf(node) }), node).toBe(AGENT_ANSWER);
    const agent = new VrouterAgentClient({ baseUrl: lab.endpoints.agents["k8s-1"]!, retries: 0 });
    expect(await agent.getPort("00000000-0000-0000-0000-000000000000")).toBeUndefined();
  });

  it("answers on no TCP port of the instance's block on the host", async () => {
    const p = lab.config.ports;
    const nodeCount = lab.config.computeNodes.length + lab.config.k8sNodes.length;
    const block = [...new Set([...Object.values(p), ...Array.from({ length: nodeCount }, (_, i) => p.agentBase + i)])];
    const answers = await Promise.all(block.map(async (port) => [port, await probe({ port })] as const));
    expect(answers.filter(([, a]) => a === AGENT_ANSWER)).toEqual([]);
    // The agents' own ports are not even listened on.
    for (let i = 0; i < nodeCount; i++) expect(await probe({ port: p.agentBase + i }), `port ${p.agentBase + i}`).toBe("ECONNREFUSED");
  });

  it("answers at 127.0.0.1:9091 inside each k8s node's netns", async () => {
    for (const node of lab.config.k8sNodes) expect(await probeFrom(`${lab.prefix}-${node}`, NODE_AGENT_PORT), node).toBe(AGENT_ANSWER);
  });

  it("is refused from a pod's netns", async () => {
    expect(await probeFrom(pod.netns, NODE_AGENT_PORT)).toBe("ECONNREFUSED");
  });

  it("keeps its socket root-only: 0600 and root's, in a 0700 directory of root's, refused to another uid", async () => {
    const socket = socketOf("k8s-1");
    for (const [file, mode] of [[socket, 0o600], [path.dirname(socket), 0o700]] as const) {
      const st = fs.statSync(file);
      expect({ file, mode: st.mode & 0o777, uid: st.uid }).toEqual({ file, mode, uid: 0 });
    }
    const connect = `require("node:net").connect(${JSON.stringify(socket)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => console.log(e.code))`;
    expect(await run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", connect])).toBe("EACCES");
  });
});
