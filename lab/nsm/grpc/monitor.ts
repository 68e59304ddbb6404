// connection.MonitorConnection over the manager: the connections in scope in the state the
// manager's check finds them now (UP, or DOWN with the reason in the manager's path segment,
// metric tfmesh.problem: what refresh reads), then each one a request establishes or heals
// (UPDATE) and each one a close removes (DELETE), as stored.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { MonitorConnection } from "../../../wire/nsm/gen/connection_pb.ts";
import { connectionEventToProto, selectorFromProto, withCheckedState } from "../../../wire/nsm/protoMapping.ts";
import type { ConnectionChange, Manager } from "../../../nsm/manager.ts";
import { inScope } from "../../../nsm/monitorScope.ts";
import { ChangeStream } from "./changeStream.ts";
import { streamed } from "./errors.ts";

const byId = (connections: Connection[]) => Object.fromEntries(connections.map((c) => [c.id, c]));

/** Each connection as the manager's check finds it, a few at a time; one closed meanwhile is left out. */
async function checked(manager: Manager, connections: Connection[], concurrency = 8): Promise<Connection[]> {
  const found: Connection[] = [];
  const todo = [...connections];
  const worker = async () => {
    for (let c = todo.shift(); c; c = todo.shift()) {
      const f = await manager.check(c.id);
      if (f) found.push(withCheckedState(f.connection, f.problem));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return found;
}

export function monitorImpl(manager: Manager): ServiceImpl<typeof MonitorConnection> {
  return {
    monitorConnections: (selector, ctx) =>
      streamed(
        (async function* () {
          const scope = selectorFromProto(selector);
          const changes = new ChangeStream<ConnectionChange>((push) => manager.watch(push), ctx.signal);
          const initial = await checked(manager, manager.list().filter((c) => inScope(c, scope)));
          yield connectionEventToProto({ type: "INITIAL_STATE_TRANSFER", connections: byId(initial) });
          for await (const { type, connection } of changes) {
            if (inScope(connection, scope)) yield connectionEventToProto({ type, connections: byId([connection]) });
          }
        })(),
      ),
  };
}
