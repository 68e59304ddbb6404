// Every lab API refuses what a web page in the operator's browser could send it: a request addressed
// to another host (DNS rebinding), a foreign Origin (cross-site), a body that is not JSON (a form or
// text/plain post). Clients that address the server by its own address, with JSON, get through.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { close, createJsonServer, listen } from "../../lib/http/server.ts";

let server: http.Server;
let port = 0;
const calls: string[] = [];

beforeAll(async () => {
  server = createJsonServer({
    name: "guarded",
    routes: [
      { method: "POST", pattern: "/things", handler: (req) => (calls.push("post"), { status: 201, body: req.body }) },
      { method: "GET", pattern: "/things", handler: () => (calls.push("get"), { body: [] }) },
    ],
  });
  port = await listen(server, 0);
});
afterAll(() => close(server));

/** A raw request, so the test sets Host itself (fetch would not let it). */
function send(method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: "/things", headers: { ...headers, ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("foreign requests", () => {
  it.each([
    ["127.0.0.1 with its port", () => `127.0.0.1:${port}`],
    ["localhost", () => `localhost:${port}`],
  ])("a JSON write addressed to %s is served", async (_what, host) => {
    const r = await send("POST", { host: host(), "content-type": "application/json; charset=UTF-8" }, '{"a":1}');
    expect(r).toEqual({ status: 201, text: '{"a":1}' });
  });

  it("a request addressed to another host name is refused before any handler runs", async () => {
    const before = calls.length;
    const r = await send("GET", { host: `evil.example:${port}` });
    expect(r.status).toBe(403);
    expect(r.text).toContain('Host \\"evil.example:');
    expect(calls.length).toBe(before);
  });

  it.each([
    ["another site", "https://evil.example"],
    ["a sandboxed page", "null"],
    ["the same host on another port", "http://127.0.0.1:1"],
  ])("a request with the Origin of %s is refused", async (_what, origin) => {
    const before = calls.length;
    const r = await send("POST", { host: `127.0.0.1:${port}`, origin, "content-type": "application/json" }, "{}");
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/cross-origin request from .* refused/);
    expect(calls.length).toBe(before);
  });

  it("a page of the server itself may call it (same origin)", async () => {
    const r = await send("GET", { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` });
    expect(r.status).toBe(200);
  });

  it.each([["text/plain"], ["application/x-www-form-urlencoded"], ["multipart/form-data; boundary=x"], [""]])("a body sent as %s is refused with 415", async (type) => {
    const before = calls.length;
    const r = await send("POST", { host: `127.0.0.1:${port}`, ...(type ? { "content-type": type } : {}) }, '{"a":1}');
    expect(r.status).toBe(415);
    expect(r.text).toContain("must be JSON");
    expect(calls.length).toBe(before);
  });
});
