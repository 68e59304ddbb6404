// The one way tests, bench and the harness wait for something asynchronous (a VM to boot, a
// daemon to clean up after itself, a port to show up): retry a check until it passes, bounded in
// time and in attempts, and say what never happened and why when it gives up.
//
// Bounds, not timed assertions: the timeout only stops a wait that would otherwise hang; a test
// never asserts how fast something happened.

// Taken at load time, so a test that installs fake timers (vi.useFakeTimers) does not stop the
// wait from ever ending.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realNow = Date.now.bind(Date);

export interface EventuallyOptions {
  /** What is awaited, for the error ("server abc to become ACTIVE"). */
  what: string;
  /** Give up after this long, counting the checks themselves. Default 30 s. */
  timeoutMs?: number;
  /** Pause between two checks. Default 100 ms. */
  intervalMs?: number;
  /** Give up after this many checks. Default: as many as the timeout leaves room for, plus one. */
  attempts?: number;
}

/** The check falsy / throwing until the bound; `what` and the last failure are in the message. */
export class EventuallyTimeout extends Error {
  readonly what: string;
  readonly attempts: number;
  readonly lastError: unknown;
  constructor(what: string, attempts: number, elapsedMs: number, last: string, lastError: unknown) {
    super(`gave up waiting for ${what} after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${elapsedMs} ms; last: ${last}`);
    this.name = "EventuallyTimeout";
    this.what = what;
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined | 0n>;

const pause = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

/** A check that has not settled when the time is up counts as a failure too. */
const STILL_RUNNING = Symbol("still running");
async function withinMs<T>(p: Promise<T>, ms: number): Promise<T | typeof STILL_RUNNING> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<typeof STILL_RUNNING>((resolve) => (timer = realSetTimeout(() => resolve(STILL_RUNNING), ms)))]);
  } finally {
    realClearTimeout(timer);
  }
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  try {
    const text = JSON.stringify(v);
    if (text !== undefined) return `returned ${text.length > 300 ? `${text.slice(0, 300)}...` : text}`;
  } catch {
    // fall through
  }
  return `returned ${String(v)}`;
}

/**
 * Calls `fn` until it returns a truthy value without throwing, and resolves with that value.
 * Throws {@link EventuallyTimeout} once `timeoutMs` passed or `attempts` checks failed.
 */
export async function eventually<T>(fn: () => Promise<T> | T, opts: EventuallyOptions): Promise<Truthy<Awaited<T>>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const attempts = opts.attempts ?? Math.floor(timeoutMs / Math.max(intervalMs, 1)) + 1;
  if (!(timeoutMs > 0) || !(attempts >= 1)) throw new Error(`eventually(${opts.what}): timeoutMs and attempts must be positive`);
  const start = realNow();
  let last = "no attempt finished";
  let lastError: unknown;
  let n = 0;
  while (n < attempts) {
    n++;
    const left = timeoutMs - (realNow() - start);
    if (left <= 0) break;
    try {
      const v = await withinMs(Promise.resolve().then(fn), left);
      if (v === STILL_RUNNING) {
        last = `the check was still running after ${timeoutMs} ms`;
        break;
      }
      if (v) return v as Truthy<Awaited<T>>;
      last = describeValue(v);
      lastError = undefined;
    } catch (e) {
      lastError = e;
      last = e instanceof Error ? `${e.name}: ${e.message}` : `threw ${String(e)}`;
    }
    if (n >= attempts) break;
    const wait = Math.min(intervalMs, timeoutMs - (realNow() - start));
    if (wait <= 0) break;
    await pause(wait);
  }
  throw new EventuallyTimeout(opts.what, n, realNow() - start, last, lastError);
}
