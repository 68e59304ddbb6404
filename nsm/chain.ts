// Request handling as a chain, in the shape of networkservicemesh/sdk: every element has the same
// two methods, `request(input, next)` and `close(input, next)`, and may have a third, `check`.
//
// - request: an element applies its own change and passes the request on (or passes on first and
//   then applies its change). If its own change fails, it undoes what it built and throws; if the
//   rest of the chain fails, it undoes its own change and rethrows. So a failure at element k
//   leaves elements 1..k-1 undone in reverse order: rollback comes from the shape, not from a
//   try/catch around the whole chain.
// - close: an element passes the close on and then undoes its own change (even when the rest
//   failed), so a close undoes a request in reverse order.
// - check (CNI's CHECK): an element that built something says whether it is still intact, else
//   passes the check on; the first problem found is the answer. An element without `check` passes on.
// - errors are wrapped once, by the element that threw them, so a message says where it failed;
//   an NsmError is a refusal already worded for the client and passes through as it is.

import { KeyedQueue } from "../lib/keyedQueue.ts";
import { NsmError } from "./errors.ts";
import { traceCall, tracingEnabled } from "../lib/trace.ts";

/** The rest of the chain, as seen from one element. */
export interface Next<T> {
  request(input: T): Promise<T>;
  close(input: T): Promise<void>;
  /** What is wrong with what the chain built for `input`, or undefined when all of it is intact. */
  check(input: T): Promise<string | undefined>;
}

export interface Element<T> {
  /** Shown in errors: "tungsten/vrouter-port: ..." */
  readonly name: string;
  request(input: T, next: Next<T>): Promise<T>;
  close(input: T, next: Next<T>): Promise<void>;
  check?(input: T, next: Next<T>): Promise<string | undefined>;
}

type Op = "request" | "close" | "check";

/** An error thrown inside `element`, with the original as `cause`. */
export class ChainError extends Error {
  readonly element: string;
  readonly op: Op;
  /** Failures while undoing after this error; the first failure is what the caller sees. */
  readonly rollbackErrors: unknown[] = [];
  constructor(element: string, op: Op, cause: unknown) {
    super(`${element}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "ChainError";
    this.element = element;
    this.op = op;
  }
}

const END: Next<never> = { request: async (input) => input, close: async () => {}, check: async () => undefined };

/** Composes elements into one request/close/check pipeline, first element outermost. */
export function chain<T>(elements: readonly Element<T>[]): Next<T> {
  return linkAll(elements, END as Next<T>);
}

/**
 * Elements as one element of a bigger chain: its request runs them in order and then passes on
 * to the chain it sits in (a forwarder's elements are the last part of the manager's chain).
 */
export function compose<T>(name: string, elements: readonly Element<T>[]): Element<T> {
  return {
    name,
    request: (input, next) => linkAll(elements, next).request(input),
    close: (input, next) => linkAll(elements, next).close(input),
    check: (input, next) => linkAll(elements, next).check(input),
  };
}

function linkAll<T>(elements: readonly Element<T>[], end: Next<T>): Next<T> {
  let next = end;
  for (const element of [...elements].reverse()) next = link(element, next);
  return next;
}

function link<T>(element: Element<T>, rest: Next<T>): Next<T> {
  const attributed = (op: Op) => (err: unknown) => {
    throw err instanceof ChainError || err instanceof AggregateError || err instanceof NsmError ? err : new ChainError(element.name, op, err);
  };
  const linked: Next<T> = {
    request: (input) => element.request(input, rest).catch(attributed("request")),
    close: (input) => element.close(input, rest).catch(attributed("close")),
    check: (input) => (element.check ? element.check(input, rest).catch(attributed("check")) : rest.check(input)),
  };
  return tracingEnabled("chain") ? traced(element.name, linked) : linked;
}

function traced<T>(name: string, linked: Next<T>): Next<T> {
  const idOf = (input: T) => () => String((input as { id?: unknown } | undefined)?.id ?? "");
  return {
    request: (input) => traceCall(name, "request", idOf(input), () => linked.request(input)),
    close: (input) => traceCall(name, "close", idOf(input), () => linked.close(input)),
    check: linked.check,
  };
}

/**
 * Passes the request on. If the rest of the chain fails and `undo` is given, undoes this
 * element's own change before rethrowing; a failing undo does not hide the original error.
 */
export async function passOn<T>(input: T, next: Next<T>, undo?: () => Promise<void>): Promise<T> {
  try {
    return await next.request(input);
  } catch (err) {
    if (undo) await undo().catch((undoErr: unknown) => noteRollbackFailure(err, undoErr));
    throw err;
  }
}

/** Runs `own` (this element's change); if it fails, runs `undo` for whatever it half built and rethrows. */
export async function applyOrUndo<R>(own: () => Promise<R>, undo: () => Promise<void>): Promise<R> {
  try {
    return await own();
  } catch (err) {
    await undo().catch((undoErr: unknown) => noteRollbackFailure(err, undoErr));
    throw err;
  }
}

/** Passes the close on, then undoes this element's change even when the rest failed. */
export async function passCloseOn<T>(input: T, next: Next<T>, undo: () => Promise<void>): Promise<void> {
  let restError: unknown;
  try {
    await next.close(input);
  } catch (err) {
    restError = err;
  }
  try {
    await undo();
  } catch (ownError) {
    if (restError === undefined) throw ownError;
    throw new AggregateError([restError, ownError], `${messageOf(restError)}; ${messageOf(ownError)}`);
  }
  if (restError !== undefined) throw restError;
}

/** This element's problem with `input` if it has one, else what the rest of the chain finds. */
export async function checkThenPassOn<T>(input: T, next: Next<T>, own: () => Promise<string | undefined>): Promise<string | undefined> {
  return (await own()) ?? next.check(input);
}

function noteRollbackFailure(err: unknown, undoErr: unknown): void {
  if (err instanceof ChainError) err.rollbackErrors.push(undoErr);
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Where `begin` keeps the established value per id (in memory by default; the manager persists it). */
export interface Memory<T> {
  get(id: string): T | undefined | Promise<T | undefined>;
  set(id: string, value: T): void | Promise<void>;
  delete(id: string): void | Promise<void>;
}

export function memoryMap<T>(): Memory<T> {
  const m = new Map<string, T>();
  return { get: (id) => m.get(id), set: (id, v) => void m.set(id, v), delete: (id) => void m.delete(id) };
}

export interface BeginOptions<T> {
  /** The connection id of an input. */
  id(input: T): string;
  memory?: Memory<T>;
  /** What a repeated request for an established id passes on: the established value updated with
   *  what the incoming request asks for now. The rest of the chain heals it: rebuilds what is
   *  missing, keeps what is there. */
  heal(established: T, incoming: T): T;
}

/**
 * `begin`: the first element of a chain. Guarantees:
 * - requests, closes and checks for one id are processed one at a time, in arrival order;
 * - a repeated request for an established id heals that connection (see `heal`), never makes a
 *   second one;
 * - close and check see the last value a successful request returned (the caller may pass only
 *   the id); closing an unknown id is a no-op, and a failed close keeps the record so it can be
 *   retried; checking an unknown id answers that it is not established.
 */
export function begin<T>(opts: BeginOptions<T>): Element<T> {
  const serializer = new KeyedQueue();
  const memory = opts.memory ?? memoryMap<T>();
  return {
    name: "begin",
    request: (input, next) =>
      serializer.run(opts.id(input), async () => {
        const id = opts.id(input);
        const established = await memory.get(id);
        const output = await next.request(established === undefined ? input : opts.heal(established, input));
        await memory.set(id, output);
        return output;
      }),
    close: (input, next) =>
      serializer.run(opts.id(input), async () => {
        const id = opts.id(input);
        const established = await memory.get(id);
        if (established === undefined) return;
        await next.close(established);
        await memory.delete(id);
      }),
    check: (input, next) =>
      serializer.run(opts.id(input), async () => {
        const established = await memory.get(opts.id(input));
        return established === undefined ? `connection ${opts.id(input)} is not established` : next.check(established);
      }),
  };
}
