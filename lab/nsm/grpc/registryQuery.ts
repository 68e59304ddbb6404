// Which records a registry Find answers, as NSM's matchutils decide it: a query field left empty
// matches anything; names are exact, a url matches by substring, labels and service names must all
// be present in the record, matches must be equal.
import { equals } from "@bufbuild/protobuf";
import type { NetworkService, NetworkServiceEndpoint, NetworkServiceLabels } from "../../../wire/nsm/gen/registry_pb.ts";
import { MatchSchema } from "../../../wire/nsm/gen/registry_pb.ts";

export function matchesService(query: NetworkService, s: NetworkService): boolean {
  return (
    (query.name === "" || query.name === s.name) &&
    (query.payload === "" || query.payload === s.payload) &&
    (query.matches.length === 0 || (query.matches.length === s.matches.length && query.matches.every((m, i) => equals(MatchSchema, m, s.matches[i]!))))
  );
}

function labelsContain(record: Record<string, NetworkServiceLabels>, query: Record<string, NetworkServiceLabels>): boolean {
  return Object.entries(query).every(([service, q]) => {
    const have = record[service]?.labels;
    return have !== undefined && Object.entries(q.labels).every(([k, v]) => have[k] === v);
  });
}

export function matchesEndpoint(query: NetworkServiceEndpoint, e: NetworkServiceEndpoint): boolean {
  return (
    (query.name === "" || query.name === e.name) &&
    labelsContain(e.networkServiceLabels, query.networkServiceLabels) &&
    (query.expirationTime === undefined || query.expirationTime.seconds === e.expirationTime?.seconds) &&
    query.networkServiceNames.every((n) => e.networkServiceNames.includes(n)) &&
    (query.url === "" || e.url.includes(query.url))
  );
}
