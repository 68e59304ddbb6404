// Everything a benchmark builds (lab instances, scratch namespaces, Pulumi stacks) is registered
// here, so that an error, Ctrl-C or SIGTERM still removes it. Each benchmark also releases its own
// resources in `finally`; a release runs at most once, whichever path gets there first.

type Release = () => Promise<void>;

const pending: Array<{ label: string; release: Release }> = [];

/**
 * Registers `release` and returns it wrapped: calling the wrapper runs it (once) and forgets it.
 * Interrupt handling runs whatever is still registered, newest first.
 */
export function track(label: string, release: Release): Release {
  let done: Promise<void> | undefined;
  const entry = {
    label,
    release: () => {
      done ??= release();
      return done;
    },
  };
  pending.push(entry);
  return async () => {
    try {
      await entry.release();
    } finally {
      const i = pending.indexOf(entry);
      if (i >= 0) pending.splice(i, 1);
    }
  };
}

/** Runs every registered release, newest first; failures are reported, not thrown. */
export async function releaseAll(log: (msg: string) => void): Promise<void> {
  while (pending.length > 0) {
    const entry = pending.pop()!;
    try {
      await entry.release();
    } catch (e) {
      log(`cleanup of ${entry.label} failed: ${(e as Error).message}`);
    }
  }
}

/** Ctrl-C / SIGTERM: clean up, then exit. A second signal exits at once, naming what may be left. */
export function exitCleanlyOnSignals(log: (msg: string) => void, leftovers: () => string): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      log(`second ${signal}: exiting without finishing cleanup; check ${leftovers()}`);
      process.exit(130);
    }
    interrupted = true;
    log(`${signal}: removing the benchmark's labs and namespaces (press Ctrl-C again to skip)...`);
    void releaseAll(log).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
