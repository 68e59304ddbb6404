// One Workload API stream per endpoint in a process, shared by the clients that use it and closed
// when the last lets go (a provider or a test makes many clients; one stream is enough).
import { X509Source } from "./x509Source.ts";

/** What a TLS endpoint needs of a source: the SVID now, and each one after (SPIRE rotates them). Tests give fixed ones. */
export type SvidSource = Pick<X509Source, "current" | "onUpdate">;

const sources = new Map<string, { source: Promise<X509Source>; users: number }>();

/** The endpoint's source; call `release` once done with it. */
export function acquireX509Source(endpoint: string): { source: Promise<X509Source>; release: () => void } {
  let entry = sources.get(endpoint);
  if (!entry) {
    const source = X509Source.connect(endpoint);
    const created = { source, users: 0 };
    entry = created;
    sources.set(endpoint, created);
    // A failed connect is not kept: the next client tries again.
    source.catch(() => {
      if (sources.get(endpoint) === created) sources.delete(endpoint);
    });
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    source: held.source,
    release: () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (sources.get(endpoint) === held) sources.delete(endpoint);
      held.source.then((s) => s.close()).catch(() => {});
    },
  };
}
