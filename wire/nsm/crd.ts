// NSM's registry on Kubernetes: the CustomResourceDefinitions NSM ships (deployments-k8s
// apps/registry-k8s/crd-ns.yaml, crd-nse.yaml) and the one mapping between a registry record and
// its custom resource. As in sdk-k8s, a CR's `spec` is NSM's registry proto message marshalled by
// Go's encoding/json: proto field names (snake_case), empty fields left out, and a
// google.protobuf.Timestamp as the Go struct `{seconds, nanos}`, not protojson's RFC 3339 text.
// The message itself comes from the gRPC mapping (protoMapping.ts), so a service's binding to its
// forwarder rides in its first match here as on the wire.
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { createHash } from "node:crypto";
import type { KubeObject } from "../kubernetes.ts";
import type * as api from "./api.ts";
import { serviceBinding } from "./api.ts";
import { NetworkServiceEndpointSchema, NetworkServiceSchema } from "./gen/registry_pb.ts";
import type { NetworkServiceEndpoint as EndpointMessage } from "./gen/registry_pb.ts";
import { endpointFromProto, endpointToProto, serviceFromProto, serviceToProto } from "./protoMapping.ts";

export const NSM_GROUP = "networkservicemesh.io";
export const NSM_API_VERSION = `${NSM_GROUP}/v1`;
export const NETWORK_SERVICE_KIND = "NetworkService";
export const NETWORK_SERVICE_ENDPOINT_KIND = "NetworkServiceEndpoint";
/** The resources' plurals: their paths under /apis/networkservicemesh.io/v1. */
export const NETWORK_SERVICES = "networkservices";
export const NETWORK_SERVICE_ENDPOINTS = "networkserviceendpoints";

/**
 * Annotations of this project's own, written on the CRs it makes and never read back: they show a
 * person the binding that the spec's first match carries (`tfmesh.io/forwarder`, and one per entry
 * of the forwarder's section, `tfmesh.io/virtual-network`, `tfmesh.io/cidr`) and when an endpoint's
 * registration expires in RFC 3339 (`kubectl get nse` shows it; the spec has NSM's {seconds, nanos}).
 */
export const FORWARDER_ANNOTATION = "tfmesh.io/forwarder";
export const VIRTUAL_NETWORK_ANNOTATION = "tfmesh.io/virtual-network";
export const EXPIRATION_ANNOTATION = "tfmesh.io/expiration-time";

export interface CustomResourceDefinition extends KubeObject {
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] };
    scope: "Namespaced";
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: Record<string, unknown> };
      additionalPrinterColumns?: Array<{ name: string; type: string; jsonPath: string; description?: string; priority?: number }>;
    }>;
    conversion: { strategy: "None" };
  };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

/** A NetworkService or NetworkServiceEndpoint custom resource. */
export interface NsmCr extends KubeObject {
  apiVersion: string;
  kind: string;
  spec?: unknown;
}

type Columns = NonNullable<CustomResourceDefinition["spec"]["versions"][number]["additionalPrinterColumns"]>;

function crd(kind: string, plural: string, singular: string, shortNames: string[], columns: Columns): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${NSM_GROUP}` },
    spec: {
      conversion: { strategy: "None" },
      group: NSM_GROUP,
      names: { kind, listKind: `${kind}List`, plural, shortNames, singular },
      scope: "Namespaced",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", properties: { spec: { "x-kubernetes-preserve-unknown-fields": true } } } },
          additionalPrinterColumns: columns,
        },
      ],
    },
  };
}

/** NSM's NetworkService CRD, with printer columns for the payload and the forwarder of the binding match. */
export const networkServiceCrd = (): CustomResourceDefinition =>
  crd(NETWORK_SERVICE_KIND, NETWORK_SERVICES, "networkservice", ["netsvc", "netsvcs"], [
    { name: "Payload", type: "string", jsonPath: ".spec.payload" },
    { name: "Forwarder", type: "string", jsonPath: ".spec.matches[0].metadata.labels.type", description: "the forwarder type the first match selects" },
  ]);

/** NSM's NetworkServiceEndpoint CRD (given the NetworkService CRD's schema), with printer columns for the services and the expiration. */
export const networkServiceEndpointCrd = (): CustomResourceDefinition =>
  crd(NETWORK_SERVICE_ENDPOINT_KIND, NETWORK_SERVICE_ENDPOINTS, "networkserviceendpoint", ["nse", "nses"], [
    { name: "Services", type: "string", jsonPath: ".spec.network_service_names" },
    { name: "Expires", type: "string", jsonPath: `.metadata.annotations.${EXPIRATION_ANNOTATION.replaceAll(".", "\\.")}`, description: "expiration_time in RFC 3339 (tfmesh's annotation)" },
    { name: "Expiration", type: "integer", jsonPath: ".spec.expiration_time.seconds", description: "expiration_time, seconds since the epoch", priority: 1 },
    { name: "URL", type: "string", jsonPath: ".spec.url", priority: 1 },
  ]);

export const NSM_CRDS: readonly CustomResourceDefinition[] = [networkServiceCrd(), networkServiceEndpointCrd()];

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The CR's metadata.name for a record: the record's name when it is a valid DNS-1123 subdomain
 * (every service name is), else one made of it (forwarders register as "<type>@<node>"): lower
 * case, other characters as "-", and 8 hex of the real name's sha256 so two names never meet. The
 * real name stays in spec.name, which is what NSM reads first.
 */
export function crName(recordName: string): string {
  if (recordName.length <= 253 && DNS1123_SUBDOMAIN.test(recordName)) return recordName;
  const hash = createHash("sha256").update(recordName).digest("hex").slice(0, 8);
  const base = recordName
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/\.{2,}|\.-|-\./g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "")
    .slice(0, 243)
    .replace(/[^a-z0-9]+$/, "");
  return base ? `${base}-${hash}` : hash;
}

// --- timestamps as Go's encoding/json writes timestamppb.Timestamp (omitempty on both fields)

const TIMESTAMP_FIELDS = ["expiration_time", "initial_registration_time"] as const;

function goTimestamp(ts: Timestamp): JsonObject {
  const seconds = Number(ts.seconds);
  return { ...(seconds !== 0 ? { seconds } : {}), ...(ts.nanos !== 0 ? { nanos: ts.nanos } : {}) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A Timestamp from a CR: Go's {seconds, nanos}, or protojson's RFC 3339 text. Throws naming the field. */
function timestampOf(field: string, v: unknown): Timestamp {
  if (typeof v === "string") {
    try {
      return fromJson(TimestampSchema, v);
    } catch {
      throw new Error(`${field}: expected {seconds, nanos} or an RFC 3339 time, got ${JSON.stringify(v)}`);
    }
  }
  if (!isObject(v) || Object.keys(v).some((k) => k !== "seconds" && k !== "nanos")) {
    throw new Error(`${field}: expected {seconds, nanos}, got ${JSON.stringify(v)}`);
  }
  const seconds = v.seconds ?? 0;
  const nanos = v.nanos ?? 0;
  if (typeof seconds !== "number" || !Number.isSafeInteger(seconds)) throw new Error(`${field}.seconds: expected an integer, got ${JSON.stringify(seconds)}`);
  if (typeof nanos !== "number" || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new Error(`${field}.nanos: expected an integer in 0..999999999, got ${JSON.stringify(nanos)}`);
  }
  return create(TimestampSchema, { seconds: BigInt(seconds), nanos });
}

// --- records <-> specs

/** The spec NSM's registry-k8s writes for a service: registry.NetworkService as Go marshals it. */
export function serviceSpec(s: api.NetworkService): JsonObject {
  return toJson(NetworkServiceSchema, serviceToProto(s), { useProtoFieldName: true }) as JsonObject;
}

/** The spec NSM's registry-k8s writes for an endpoint: registry.NetworkServiceEndpoint as Go marshals it. */
export function endpointSpec(e: api.NetworkServiceEndpoint): JsonObject {
  const m = endpointToProto(e);
  const json = toJson(NetworkServiceEndpointSchema, m, { useProtoFieldName: true }) as JsonObject;
  if (m.expirationTime) json.expiration_time = goTimestamp(m.expirationTime);
  if (m.initialRegistrationTime) json.initial_registration_time = goTimestamp(m.initialRegistrationTime);
  return json;
}

function specObject(cr: NsmCr): Record<string, unknown> {
  if (cr.spec === undefined || cr.spec === null) return {};
  if (!isObject(cr.spec)) throw new Error(`spec: expected an object, got ${JSON.stringify(cr.spec)}`);
  return cr.spec;
}

function decode<T>(what: () => T): T {
  try {
    return what();
  } catch (e) {
    throw new Error(`spec: ${(e as Error).message}`);
  }
}

/**
 * The service a NetworkService CR holds, as the registry's JSON record (for parseNetworkService to
 * validate): spec.name, else metadata.name, as NSM reads it. Throws naming the field NSM's message
 * cannot take.
 */
export function serviceOfCr(cr: NsmCr): api.NetworkService {
  const spec = specObject(cr);
  const message = decode(() => fromJson(NetworkServiceSchema, spec as JsonValue));
  if (message.name === "") message.name = cr.metadata.name;
  return serviceFromProto(message);
}

/** The endpoint a NetworkServiceEndpoint CR holds (for parseNetworkServiceEndpoint); as serviceOfCr. */
export function endpointOfCr(cr: NsmCr): api.NetworkServiceEndpoint {
  const { expiration_time, initial_registration_time, ...rest } = specObject(cr);
  const message: EndpointMessage = decode(() => fromJson(NetworkServiceEndpointSchema, rest as JsonValue));
  const times = { expiration_time, initial_registration_time };
  for (const field of TIMESTAMP_FIELDS) {
    const v = times[field];
    if (v === undefined || v === null) continue;
    const ts = timestampOf(`spec.${field}`, v);
    if (field === "expiration_time") message.expirationTime = ts;
    else message.initialRegistrationTime = ts;
  }
  if (message.name === "") message.name = cr.metadata.name;
  return endpointFromProto(message);
}

/** tfmesh's informative annotations of a service: its forwarder and each entry of that forwarder's section. */
function serviceAnnotations(s: api.NetworkService): Record<string, string> {
  const prefix = `${s.forwarder}.`;
  return {
    [FORWARDER_ANNOTATION]: s.forwarder,
    ...Object.fromEntries(Object.entries(serviceBinding(s)).map(([k, v]) => [`tfmesh.io/${k.slice(prefix.length).replaceAll("_", "-")}`, v])),
  };
}

/** The NetworkService CR of a service in `namespace` (the lab's registry writes it; NetworkServiceCr declares it). */
export function networkServiceCr(s: api.NetworkService, namespace: string): NsmCr & { spec: JsonObject } {
  return {
    apiVersion: NSM_API_VERSION,
    kind: NETWORK_SERVICE_KIND,
    metadata: { name: crName(s.name), namespace, annotations: serviceAnnotations(s) },
    spec: serviceSpec(s),
  };
}

/** The NetworkServiceEndpoint CR of an endpoint in `namespace`. */
export function networkServiceEndpointCr(e: api.NetworkServiceEndpoint, namespace: string): NsmCr & { spec: JsonObject } {
  const expires = e.expiration_time === undefined ? NaN : Date.parse(e.expiration_time);
  return {
    apiVersion: NSM_API_VERSION,
    kind: NETWORK_SERVICE_ENDPOINT_KIND,
    metadata: {
      name: crName(e.name),
      namespace,
      ...(Number.isFinite(expires) ? { annotations: { [EXPIRATION_ANNOTATION]: new Date(expires).toISOString() } } : {}),
    },
    spec: endpointSpec(e),
  };
}
