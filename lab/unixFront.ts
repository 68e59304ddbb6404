// A server's second door: a unix socket whose connections the server takes as its own (an
// http.Server or the NSM gRPC server beside its 127.0.0.1 port), for processes in other network
// namespaces. The socket file is replaced when stale and removed on close. Root only: the socket is
// 0600 in a 0700 directory, since what it fronts (a vRouter agent) may take requests without auth.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export interface UnixFront {
  path: string;
  close(): Promise<void>;
}

export async function serveOnUnix(server: net.Server, socketPath: string): Promise<UnixFront> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.dirname(socketPath), 0o700); // mkdir's mode is cut by the umask and skipped when the directory exists
  fs.rmSync(socketPath, { force: true });
  // Node's servers track their connections only once they listen themselves, and an agent's never
  // does: the front ends what it handed over, or a client's kept-alive connection would go on
  // reaching a stopped server (in-process restarts: "database is not open").
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    server.emit("connection", socket);
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(socketPath, () => {
      front.off("error", reject);
      fs.chmodSync(socketPath, 0o600);
      resolve();
    });
  });
  return {
    path: socketPath,
    // Stops listening (and removes the socket file) at once, and drops the connections it handed over.
    close: async () => {
      front.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
