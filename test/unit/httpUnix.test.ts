// HttpClient over a unix socket: a base URL "unix:///path/to.sock" sends HTTP over that socket,
// and errors name the socket and the path.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError, HttpClient, HttpError, unixSocketOf } from "../../lib/http/client.ts";

let dir: string;
let socket: string;
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    if (req.url === "/missing") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"no such thing"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, body }));
  });
});

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-http-unix-"));
  socket = path.join(dir, "api.sock");
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("HttpClient over a unix socket", () => {
  it("sends requests with their paths and query over the socket", async () => {
    const c = new HttpClient({ baseUrl: `unix://${socket}`, retries: 0 });
    expect((await c.get("/port/abc", { query: { x: 1 } })).body).toEqual({ method: "GET", url: "/port/abc?x=1", host: "localhost", body: "" });
    expect((await c.post("/port", { id: "p" })).body).toMatchObject({ method: "POST", url: "/port", body: '{"id":"p"}' });
  });

  it("names the socket and the path in an error", async () => {
    const c = new HttpClient({ baseUrl: `unix://${socket}`, retries: 0 });
    const err = await c.get("/missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).url).toBe(`unix://${socket}/missing`);
    expect((err as HttpError).status).toBe(404);
  });

  it("reports a socket that is not there as unreachable (ENOENT)", async () => {
    const c = new HttpClient({ baseUrl: `unix://${path.join(dir, "none.sock")}`, retries: 1, backoffMs: 1, unreachableHint: "is the lab up?" });
    const err = await c.get("/port").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe("ENOENT");
    expect((err as Error).message).toContain(`${dir}/none.sock/port`);
  });

  it("refuses a unix URL whose socket path is not absolute", () => {
    expect(() => new HttpClient({ baseUrl: "unix://relative.sock" })).toThrow(/unix:\/\/<absolute socket path>/);
    expect(unixSocketOf("http://127.0.0.1:1")).toBeUndefined();
  });
});
