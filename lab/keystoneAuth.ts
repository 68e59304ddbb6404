// The one credential check of the lab's HTTP APIs when the instance's auth is "keystone": TF's
// config API, the pod API, the lab's introspection and the NSM JSON view all take a token the lab's
// Keystone issued, in X-Auth-Token (as OpenStack services and TF do). Built once by the daemon.
import { ApiError } from "../lib/http/server.ts";
import type { ApiRequest } from "../lib/http/server.ts";
import { tokenOf } from "./openstack/common.ts";
import type { TokenValidator } from "./openstack/common.ts";

export type { TokenValidator };

export interface KeystoneCheck {
  /** Throws 401 unless the request carries a valid token (paths declared open pass without one). */
  require(req: ApiRequest): void;
  /** Whether the request carries a valid token. */
  accepts(req: ApiRequest): boolean;
}

export interface KeystoneCheckOptions {
  /** Where a caller gets a token and its credentials, appended to the 401 message. */
  hint?: string;
  /** Paths answered without a token (liveness probes); a trailing "/" does not matter. */
  open?: readonly string[];
}

const trimSlash = (p: string) => (p.length > 1 ? p.replace(/\/+$/, "") : p);

export function requireKeystoneToken(validate: TokenValidator, opts: KeystoneCheckOptions = {}): KeystoneCheck {
  const open = new Set((opts.open ?? []).map(trimSlash));
  const message = `Authentication required: send a valid token from the lab's Keystone in X-Auth-Token${opts.hint ? ` (${opts.hint})` : ""}`;
  const accepts = (req: ApiRequest) => validate(tokenOf(req));
  return {
    accepts,
    require(req) {
      if (open.has(trimSlash(req.path))) return;
      if (!accepts(req)) throw new ApiError(401, message);
    },
  };
}

/** The 401 hint of an instance: how to get a token, and where its credentials are. */
export function keystoneHint(keystoneUrl: string, stateDir: string): string {
  return `get one with POST ${keystoneUrl}/auth/tokens, using the admin credentials in ${stateDir}/endpoints.json ("credentials") or ${stateDir}/instance.json`;
}
