// connection.MonitorConnection over the manager: the connections in scope as they are stored, then
// each one a request establishes or heals (UPDATE) and each one a close removes (DELETE).
import type { ServiceImpl } from "@connectrpc/connect";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { MonitorConnection } from "../../../wire/nsm/gen/connection_pb.ts";
import { connectionEventToProto, selectorFromProto } from "../../../wire/nsm/protoMapping.ts";
import type { ConnectionChange, Manager } from "../../../nsm/manager.ts";
import { inScope } from "../../../nsm/monitorScope.ts";
import { ChangeStream } from "./changeStream.ts";
import { streamed } from "./errors.ts";

const byId = (connections: Connection[]) => Object.fromEntries(connections.map((c) => [c.id, c]));

export function monitorImpl(manager: Manager): ServiceImpl<typeof MonitorConnection> {
  return {
    monitorConnections: (selector, ctx) =>
      streamed(
        (async function* () {
          const scope = selectorFromProto(selector);
          const changes = new ChangeStream<ConnectionChange>((push) => manager.watch(push), ctx.signal);
          const initial = manager.list().filter((c) => inScope(c, scope));
          yield connectionEventToProto({ type: "INITIAL_STATE_TRANSFER", connections: byId(initial) });
          for await (const { type, connection } of changes) {
            if (inScope(connection, scope)) yield connectionEventToProto({ type, connections: byId([connection]) });
          }
        })(),
      ),
  };
}
