// The Connection is the one thing that flows through the chain, as in NSM's SDK: the manager's and
// the forwarders' elements all take it, and its context is their data bus. Each element writes
// what it allocated into the context (TF's MAC and address into ethernet_context and ip_context,
// its object uuids into extra_context, the interface name into the kernel mechanism) and the
// elements after it read it from there; the answer to the client is the connection as the last
// element left it, and the stored answer is what a heal, a check and a close start from.
import type { Connection, ConnectionContext } from "../wire/nsm/api.ts";
import { MechanismParam, NODE_LABEL } from "../wire/nsm/api.ts";
import { NsmError } from "./errors.ts";
import { interfaceNameOf, netnsOf } from "./mechanism.ts";

/**
 * Whether a connection on its way down the chain heals an established one: `begin` passes a
 * repeated Request on as the established connection (state UP) updated with what the client asks
 * for now, while a new Request carries no state. An element healing keeps what is there, rebuilds
 * what is missing, and on failure leaves the established pieces in place.
 */
export const isHeal = (c: Connection): boolean => c.state !== undefined;

/** The client's node (label nodeName; the manager refuses requests without it). */
export const nodeOf = (c: Connection): string => c.labels?.[NODE_LABEL] ?? "";

/** One value of the context's extra_context. */
export const extraOf = (c: Connection, key: string): string | undefined => c.context?.extra_context?.[key];

/** The client's own address, "a.b.c.d/len". */
export const srcAddressOf = (c: Connection): string | undefined => c.context?.ip_context?.src_ip_addrs?.[0];

/** The client's address without the prefix length. */
export const srcIpOf = (c: Connection): string | undefined => srcAddressOf(c)?.split("/")[0];

export const srcMacOf = (c: Connection): string | undefined => c.context?.ethernet_context?.src_mac;

/** The interface name in the kernel mechanism: requested by the client, or chosen by the forwarder. */
export const interfaceOf = (c: Connection): string | undefined => interfaceNameOf(c.mechanism);

/** The MTU: the context's (what a forwarder settled), else what the client asked for. */
export function mtuOf(c: Connection): number | undefined {
  if (c.context?.MTU) return c.context.MTU;
  const v = c.mechanism?.parameters?.[MechanismParam.mtu];
  return v ? Number(v) : undefined;
}

/** The MTU the client asked for in the kernel mechanism, if any. */
export function requestedMtu(c: Connection): number | undefined {
  const v = c.mechanism?.parameters?.[MechanismParam.mtu];
  return v ? Number(v) : undefined;
}

/** The connection with `patch` written into its context: ip_context, ethernet_context and extra_context key by key. */
export function withContext(c: Connection, patch: ConnectionContext): Connection {
  const ctx = c.context ?? {};
  const merged: ConnectionContext = { ...ctx, ...patch };
  if (patch.ip_context) merged.ip_context = { ...ctx.ip_context, ...patch.ip_context };
  if (patch.ethernet_context) merged.ethernet_context = { ...ctx.ethernet_context, ...patch.ethernet_context };
  if (patch.extra_context) merged.extra_context = { ...ctx.extra_context, ...patch.extra_context };
  return { ...c, context: merged };
}

export function withInterfaceName(c: Connection, name: string): Connection {
  return { ...c, mechanism: { ...c.mechanism!, parameters: { ...c.mechanism?.parameters, [MechanismParam.name]: name } } };
}

const CONNECTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Connection ids name files and interface aliases: 1..128 characters from [A-Za-z0-9._-]. Throws a 400 otherwise. */
export function assertConnectionId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !CONNECTION_ID.test(id)) {
    throw new NsmError(400, `connection id must be 1..128 characters from [A-Za-z0-9._-], got ${JSON.stringify(id)}`);
  }
}

/** The alias both ends of a connection's veth carry: finds them again after a restart. */
export const connectionAlias = (connectionId: string): string => `nsm:${connectionId}`;

/** The client's network namespace (the kernel mechanism's netnsName, which the manager requires). */
export function clientNetnsOf(c: Connection): string {
  const ns = netnsOf(c.mechanism);
  if (!ns) throw new NsmError(400, `connection ${c.id}: no client netns in the kernel mechanism`);
  return ns;
}
