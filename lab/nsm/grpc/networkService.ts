// networkservice.NetworkService over the manager: Request builds or heals a connection, Close removes it.
import type { ServiceImpl } from "@connectrpc/connect";
import type { NetworkService } from "../../../wire/nsm/gen/networkservice_pb.ts";
import { connectionToProto, requestFromProto } from "../../../wire/nsm/protoMapping.ts";
import type { Manager } from "../../../nsm/manager.ts";
import { unary } from "./errors.ts";

export function networkServiceImpl(manager: Manager): ServiceImpl<typeof NetworkService> {
  return {
    request: unary(async (req) => connectionToProto(await manager.request(requestFromProto(req)))),
    close: unary(async (c) => {
      await manager.close({ id: c.id });
      return {};
    }),
  };
}
