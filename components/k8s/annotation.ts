// The NSM v1 client annotation: `networkservicemesh.io: kernel://<service>[/<ifname>][?k=v&...]`,
// several joined by commas. The admission webhook turns it into the init container and sidecar
// that request these interfaces when the pod starts.
import { checkIfName, checkK8sName } from "../../lib/validate/names.ts";

export const NSM_ANNOTATION = "networkservicemesh.io";

export interface NsmInterfaceRequest {
  /** Network service name, e.g. "red". */
  service: string;
  /** Interface name in the pod (<= 15 characters); NSM generates one when omitted. */
  interfaceName?: string;
  labels?: Record<string, string>;
}

/** "kernel://red/nsm-1,kernel://blue/nsm-2?app=web"; throws naming the entry that is invalid. */
export function nsmAnnotation(requests: NsmInterfaceRequest[]): string {
  if (requests.length === 0) throw new Error("an NSM annotation needs at least one network service");
  return requests
    .map((r, i) => {
      const bad = checkK8sName(r.service);
      if (bad) throw new Error(`networks[${i}].service: ${bad}`);
      let url = `kernel://${r.service}`;
      if (r.interfaceName !== undefined) {
        const badIf = checkIfName(r.interfaceName);
        if (badIf) throw new Error(`networks[${i}].interfaceName: ${badIf}`);
        url += `/${r.interfaceName}`;
      }
      const labels = Object.entries(r.labels ?? {});
      if (labels.length > 0) url += `?${labels.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`;
      return url;
    })
    .join(",");
}
