// How an agent learns what a plugged port is: the VMI's network, MAC and address come from the
// TF config (real agents receive it from the control node; the lab reads the ConfigStore).
import { contains, isIpv4, net, parseIpv4 } from "../../lib/ipv4.ts";
import type { Gateway } from "../dataplane/vnPlumbing.ts";

export interface ResolvedPort {
  vmiUuid: string;
  vnUuid: string;
  /** "default-domain:admin:red" */
  vnFqName?: string;
  networkId: number;
  mac: string;
  ip: string;
  prefixLength: number;
  gateway?: string;
  dnsServer?: string;
  /** Every subnet gateway of the VN: each node hosting the VN answers on all of them. */
  vnGateways: Gateway[];
  /** The instance-ip the address comes from. */
  iipUuid?: string;
}

/** A config change; `vmis` names the VMIs whose port config it may change when that can be told from the change. */
export interface ConfigChange {
  op: string;
  type: string;
  uuid: string;
  vmis?: string[];
}

export interface PortConfigSource {
  /** The port's config, or undefined while the VMI, its VN or its instance-ip is missing. */
  resolvePort(vmiUuid: string): ResolvedPort | undefined;
  /** fq_name string of a VN, for descriptions. */
  networkName?(vnUuid: string): string | undefined;
  /** Calls `listener` after config changes that may change what resolvePort answers (without the change: any port may); returns an unsubscribe. */
  onChange?(listener: (change?: ConfigChange) => void): () => void;
}

/** The slice of lab/tf/configStore.ts's ConfigStore this needs. */
export interface ConfigReader {
  read(type: string, uuid: string, opts?: never): unknown;
  onChange?(listener: (ev: { op: string; type: string; uuid: string }) => void): unknown;
}

type Obj = Record<string, unknown>;

const RELEVANT_TYPES = new Set(["virtual-machine-interface", "instance-ip", "virtual-network", "network-ipam"]);

function unwrap(type: string, value: unknown): Obj | undefined {
  if (!value || typeof value !== "object") return undefined;
  const o = value as Obj;
  const inner = o[type];
  return inner && typeof inner === "object" && !Array.isArray(inner) ? (inner as Obj) : o;
}

function readObj(store: ConfigReader, type: string, uuid: string): Obj | undefined {
  try {
    return unwrap(type, store.read(type, uuid));
  } catch {
    return undefined; // TfError 404: not (yet) configured
  }
}

const asArray = (v: unknown): Obj[] => (Array.isArray(v) ? (v.filter((x) => x && typeof x === "object") as Obj[]) : []);
const asObj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});

interface Subnet {
  prefix: string;
  prefixLength: number;
  gateway?: string;
  dnsServer?: string;
  subnetUuid?: string;
}

function subnetsOf(vn: Obj): Subnet[] {
  return asArray(vn.network_ipam_refs).flatMap((ref) =>
    asArray(asObj(ref.attr).ipam_subnets).flatMap((s) => {
      const subnet = asObj(s.subnet);
      const prefix = subnet.ip_prefix;
      const plen = Number(subnet.ip_prefix_len);
      if (!isIpv4(prefix) || !Number.isInteger(plen)) return [];
      const gw = typeof s.default_gateway === "string" && isIpv4(s.default_gateway) && s.default_gateway !== "0.0.0.0" ? s.default_gateway : undefined;
      const dns = typeof s.dns_server_address === "string" && isIpv4(s.dns_server_address) ? s.dns_server_address : undefined;
      return [{ prefix, prefixLength: plen, gateway: gw, dnsServer: dns, subnetUuid: typeof s.subnet_uuid === "string" ? s.subnet_uuid : undefined }];
    }),
  );
}

export function configStorePortConfig(store: ConfigReader): PortConfigSource {
  return {
    resolvePort(vmiUuid) {
      const vmi = readObj(store, "virtual-machine-interface", vmiUuid);
      if (!vmi) return undefined;
      const vnUuid = asArray(vmi.virtual_network_refs)[0]?.uuid;
      const mac = asObj(vmi.virtual_machine_interface_mac_addresses).mac_address;
      const macAddr = Array.isArray(mac) && typeof mac[0] === "string" ? mac[0].toLowerCase() : undefined;
      if (typeof vnUuid !== "string" || !macAddr) return undefined;
      const vn = readObj(store, "virtual-network", vnUuid);
      if (!vn || typeof vn.virtual_network_network_id !== "number") return undefined;
      const subnets = subnetsOf(vn);
      for (const ref of asArray(vmi.instance_ip_back_refs)) {
        if (typeof ref.uuid !== "string") continue;
        const iip = readObj(store, "instance-ip", ref.uuid);
        const addr = iip?.instance_ip_address;
        if (!iip || !isIpv4(addr)) continue;
        const subnet =
          subnets.find((s) => s.subnetUuid !== undefined && s.subnetUuid === iip.subnet_uuid) ??
          subnets.find((s) => contains(net(parseIpv4(s.prefix), s.prefixLength), parseIpv4(addr)));
        if (!subnet) continue;
        return {
          vmiUuid,
          vnUuid,
          vnFqName: Array.isArray(vn.fq_name) ? vn.fq_name.join(":") : undefined,
          networkId: vn.virtual_network_network_id,
          mac: macAddr,
          ip: addr,
          prefixLength: subnet.prefixLength,
          gateway: subnet.gateway,
          dnsServer: subnet.dnsServer,
          vnGateways: subnets.filter((s) => s.gateway !== undefined).map((s) => ({ ip: s.gateway!, prefixLength: s.prefixLength })),
          iipUuid: ref.uuid,
        };
      }
      return undefined;
    },
    networkName(vnUuid) {
      const vn = readObj(store, "virtual-network", vnUuid);
      return vn && Array.isArray(vn.fq_name) ? vn.fq_name.join(":") : undefined;
    },
    onChange(listener) {
      let active = true;
      store.onChange?.((ev) => {
        if (!active || !RELEVANT_TYPES.has(ev.type)) return;
        // Which ports a VMI or a (still present) instance-ip concerns is known; a VN or IPAM change may concern any.
        const vmis =
          ev.type === "virtual-machine-interface"
            ? [ev.uuid]
            : ev.type === "instance-ip" && ev.op !== "delete"
              ? asArray(readObj(store, "instance-ip", ev.uuid)?.virtual_machine_interface_refs).flatMap((r) => (typeof r.uuid === "string" ? [r.uuid] : []))
              : undefined;
        listener({ op: ev.op, type: ev.type, uuid: ev.uuid, ...(vmis ? { vmis } : {}) });
      });
      return () => {
        active = false;
      };
    },
  };
}
