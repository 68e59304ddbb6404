// A kubelet's gRPC probe, run by the lab in a node's netns (a hostNetwork pod's port is only
// reachable there): grpc.health.v1.Health/Check for the whole server ("") on 127.0.0.1:<port>.
// Exits 0 when the answer is SERVING, 1 otherwise (the reason on stderr). Plain node:http2, so a
// probe starts fast.
//
//   node lab/kube/grpcProbe.ts <port> [timeout ms]
import http2 from "node:http2";

const port = Number(process.argv[2]);
const timeoutMs = Number(process.argv[3] ?? 1000);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`usage: grpcProbe.ts <port> [timeout ms]; got port "${process.argv[2] ?? ""}"\n`);
  process.exit(2);
}

const fail = (why: string) => {
  process.stderr.write(`probe 127.0.0.1:${port}: ${why}\n`);
  process.exit(1);
};
setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs).unref();

const session = http2.connect(`http://127.0.0.1:${port}`);
session.on("error", (e) => fail(e.message));
const req = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
const chunks: Buffer[] = [];
let status: string | undefined;
req.on("response", (headers) => (status = headers["grpc-status"] as string | undefined));
req.on("trailers", (trailers) => (status = (trailers["grpc-status"] as string | undefined) ?? status));
req.on("data", (c: Buffer) => chunks.push(c));
req.on("error", (e) => fail(e.message));
req.on("end", () => {
  session.close();
  if (status !== "0") return fail(`grpc-status ${status ?? "missing"}`);
  // One message: 5-byte frame header, then HealthCheckResponse { status (field 1, varint) }.
  const body = Buffer.concat(chunks).subarray(5);
  if (body[0] !== 0x08 || body[1] !== 1) return fail(`not SERVING (${body.toString("hex")})`);
  process.exit(0);
});
// An empty HealthCheckRequest (service ""): an uncompressed frame of length 0.
req.end(Buffer.from([0, 0, 0, 0, 0]));
