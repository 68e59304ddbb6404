// A server's second door: a unix socket whose connections the server takes as its own (an
// http.Server or the NSM gRPC server beside its 127.0.0.1 port), for processes in other network
// namespaces. The socket file is replaced when stale and removed on close.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export interface UnixFront {
  path: string;
  close(): Promise<void>;
}

export async function serveOnUnix(server: net.Server, socketPath: string): Promise<UnixFront> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  fs.rmSync(socketPath, { force: true });
  const front = net.createServer((socket) => server.emit("connection", socket));
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(socketPath, () => {
      front.off("error", reject);
      resolve();
    });
  });
  return {
    path: socketPath,
    // Stops listening (and removes the socket file) at once; the connections it handed over are the server's to end.
    close: async () => void front.close(),
  };
}
