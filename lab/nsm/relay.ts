// A k8s node's relay, run by the daemon inside the node's netns: listens on 127.0.0.1 ports there
// and pipes each connection to a unix socket the daemon serves, so the node's processes (its
// forwarders) reach the node's vRouter agent, TF and Keystone at node-local addresses, as a
// hostNetwork pod does on a real node, and nothing outside the node reaches them that way.
//
//   node lab/nsm/relay.ts <port>=<unix socket> ...
// It exits when its stdin ends (the daemon is gone) or on SIGTERM.
import net from "node:net";

function parsePipes(argv: string[]): Array<{ port: number; socket: string }> {
  if (argv.length === 0) throw new Error("usage: relay.ts <port>=<unix socket> ...");
  return argv.map((arg) => {
    const i = arg.indexOf("=");
    const port = Number(arg.slice(0, i));
    const socket = arg.slice(i + 1);
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535 || !socket.startsWith("/")) {
      throw new Error(`relay: "${arg}" is not <port>=<absolute unix socket path>`);
    }
    return { port, socket };
  });
}

function relay(port: number, socket: string): Promise<net.Server> {
  const server = net.createServer((inbound) => {
    const outbound = net.connect(socket);
    inbound.pipe(outbound).pipe(inbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.once("error", drop);
    outbound.once("error", drop);
    inbound.once("close", drop);
    outbound.once("close", drop);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

async function main(): Promise<void> {
  const pipes = parsePipes(process.argv.slice(2));
  await Promise.all(pipes.map((p) => relay(p.port, p.socket)));
  process.stderr.write(`relaying ${pipes.map((p) => `127.0.0.1:${p.port} -> ${p.socket}`).join(", ")}\n`);
  const exit = () => process.exit(0);
  process.once("SIGTERM", exit);
  process.stdin.on("data", () => {});
  process.stdin.once("end", exit);
}

if (import.meta.main) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
