// Every HTTP endpoint of a running lab (TF, Keystone, Nova, Neutron, Glance, NSM, the lab API, each
// vRouter agent) refuses what a web page in the operator's browser could send it: a write addressed
// to another host name (DNS rebinding), one with a foreign Origin, one whose body is text/plain
// (a "simple" cross-site POST). Nothing is created by any of them.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unixSocketOf } from "../../lib/http/client.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

let lab: TestLab;
let endpoints: Array<[string, URL, string]> = [];
// The agents are reached over their unix sockets (they have no TCP port on the host).
const sockets = new Map<URL, string>();

beforeAll(async () => {
  lab = await startLab({ inProcess: true });
  const e = lab.endpoints;
  // A write each API would take from a client that means it.
  endpoints = [
    ["TF", new URL(`${e.tf}/virtual-networks`), '{"virtual-network":{"fq_name":["default-domain","admin","csrf"],"parent_type":"project"}}'],
    ["Keystone", new URL(`${e.keystone}/auth/tokens`), '{"auth":{}}'],
    ["Nova", new URL(`${e.nova}/servers`), '{"server":{"name":"csrf"}}'],
    ["Neutron", new URL(`${e.neutron}/v2.0/networks`), '{"network":{"name":"csrf"}}'],
    ["Glance", new URL(`${e.glance}/v2/images`), '{"name":"csrf"}'],
    ["NSM", new URL(`${e.nsm}/registry/network-services`), '{"name":"csrf","payload":"ETHERNET","forwarder":"kernel","kernel":{"cidr":"10.99.0.0/24"}}'],
    // The lab API only reads; a write to it must still be refused before any route answers.
    ["lab API", new URL(`${e.lab}/lab/status`), "{}"],
    ...Object.entries(e.agents).map(([node, url]): [string, URL, string] => {
      const u = new URL("http://localhost/port");
      sockets.set(u, unixSocketOf(url)!);
      return [`agent ${node}`, u, '{"id":"csrf"}'];
    }),
  ];
}, LAB_TIMEOUT);

afterAll(() => lab?.stop(), LAB_TIMEOUT);

function post(url: URL, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { ...(sockets.has(url) ? { socketPath: sockets.get(url) } : { host: url.hostname, port: url.port }), method: "POST", path: url.pathname, headers: { "content-length": String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("every lab endpoint refuses foreign writes", () => {
  it.each([
    ["addressed to another host name", (u: URL) => ({ host: `rebound.example:${u.port}`, "content-type": "application/json" }), 403],
    ["with a foreign Origin", (u: URL) => ({ host: u.host, origin: "https://evil.example", "content-type": "application/json" }), 403],
    ["sent as text/plain", (u: URL) => ({ host: u.host, "content-type": "text/plain" }), 415],
  ])("a write %s", async (_what, headers, status) => {
    const answers = await Promise.all(endpoints.map(async ([name, url, body]) => [name, await post(url, headers(url), body)] as const));
    expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(endpoints.map(([name]) => [name, status])));
  });

  it("none of them created anything", async () => {
    const s = await lab.status();
    expect(s.counts).toMatchObject({ virtualNetworks: 0, virtualMachines: 0, ports: 0, pods: 0 });
    expect(await (await fetch(`${lab.endpoints.nsm}/registry/network-services`, { headers: await lab.authHeaders() })).json()).toEqual([]);
  });
});
