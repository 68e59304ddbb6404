// The NSM client annotation a component puts on its pods; its grammar lives in wire/nsm/annotation.ts.
import { checkIfName, checkK8sName } from "../../lib/validate/names.ts";
import { NSM_ANNOTATION, NsmAnnotationError, formatNsmAnnotation } from "../../wire/nsm/annotation.ts";

export { NSM_ANNOTATION };

export interface NsmInterfaceRequest {
  /** Network service name, e.g. "red". */
  service: string;
  /** Interface name in the pod (<= 15 characters); the forwarder picks nsm-<n> when omitted. */
  interfaceName?: string;
  labels?: Record<string, string>;
}

/** "kernel://red/nsm-1,kernel://blue/nsm-2?app=web"; throws naming the network (`networks[i]`) that is invalid. */
export function nsmAnnotation(requests: NsmInterfaceRequest[]): string {
  requests.forEach((r, i) => {
    const badService = checkK8sName(r.service);
    if (badService) throw new Error(`networks[${i}].service: ${badService}`);
    const badIf = r.interfaceName === undefined ? undefined : checkIfName(r.interfaceName);
    if (badIf) throw new Error(`networks[${i}].interfaceName: ${badIf}`);
  });
  try {
    return formatNsmAnnotation(requests);
  } catch (e) {
    if (e instanceof NsmAnnotationError) throw new Error(`networks[${e.entry - 1}]: ${e.message.replace(/^.*?\): /, "")}`);
    throw e;
  }
}
