// Opt-in tracing for tuning and debugging, one setting for all of it: TFMESH_TRACE, a comma list of
// topics, in a process's environment (the lab daemon passes its own to the processes it runs).
//   chain   every outermost chain request and close prints one line to stderr with each element's
//           own time (its time minus the rest of the chain's), as NSM's SDK traces its chains:
//           tfmesh trace: request c-1 31.2 ms: begin 0.3, tungsten/tf-objects 12.1, ...
//   kernel  every ip/bridge/sysctl/... run with its duration (lib/kernel/run.ts)
// Off by default; off, it costs one environment check where a chain is built.
import { AsyncLocalStorage } from "node:async_hooks";

export type TracedOp = "request" | "close" | "check";

interface Span {
  element: string;
  depth: number;
  ms: number;
}

interface Trace {
  spans: Span[];
  depth: number;
}

const current = new AsyncLocalStorage<Trace>();

export type TraceTopic = "chain" | "kernel";

export function tracingEnabled(topic: TraceTopic, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.TFMESH_TRACE ?? "").split(",").map((t) => t.trim()).includes(topic);
}

/**
 * Runs one element's call, timed. The outermost traced call of a chain collects the spans of
 * everything inside it and prints them when it settles.
 */
export async function traceCall<R>(element: string, op: TracedOp, id: () => string, call: () => Promise<R>): Promise<R> {
  const outer = current.getStore();
  const trace = outer ?? { spans: [], depth: 0 };
  const depth = trace.depth;
  const span: Span = { element, depth, ms: 0 };
  trace.spans.push(span);
  const t0 = performance.now();
  let failed = false;
  try {
    return await current.run({ spans: trace.spans, depth: depth + 1 }, call);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    span.ms = performance.now() - t0;
    if (!outer) process.stderr.write(`${formatTrace(op, id(), trace.spans, failed)}\n`);
  }
}

/** Each element's own time: its span minus the spans of the elements it called (one depth below). */
export function formatTrace(op: TracedOp, id: string, spans: readonly Span[], failed: boolean): string {
  const own = spans.map((s, i) => {
    let inner = 0;
    for (let j = i + 1; j < spans.length && spans[j]!.depth > s.depth; j++) if (spans[j]!.depth === s.depth + 1) inner += spans[j]!.ms;
    return `${s.element} ${Math.max(0, s.ms - inner).toFixed(1)}`;
  });
  return `tfmesh trace: ${op} ${id} ${(spans[0]?.ms ?? 0).toFixed(1)} ms${failed ? " (failed)" : ""}: ${own.join(", ")}`;
}

/** traceCall when TFMESH_TRACE has `chain`, else just the call (for what runs around a chain: a gRPC handler). */
export function traceIfEnabled<R>(element: string, op: TracedOp, id: () => string, call: () => Promise<R>): Promise<R> {
  return tracingEnabled("chain") ? traceCall(element, op, id, call) : call();
}
