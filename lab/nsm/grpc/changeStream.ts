// Moved to nsm/grpc/changeStream.ts (the forwarder program's monitor streams its changes too).
export { ChangeStream } from "../../../nsm/grpc/changeStream.ts";
