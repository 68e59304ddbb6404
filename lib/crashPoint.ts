// Crash points for tests: a process dies at a named step as `kill -9` at that moment would end it
// (no finally blocks, no exit handlers, no answer sent), so a test can put a crash exactly between
// two writes instead of timing one. The provider reads TFMESH_CRASH_AT, the lab daemon
// TFMESH_LAB_CRASH_AT; each holds one step name or several separated by commas. Unset (always, in
// normal use) it costs one environment lookup.
//
// A test that must kill something else than the process at the step (the Pulumi CLI above a
// provider, as an operator's `kill -9` of `pulumi up` would) pauses it there instead:
// TFMESH_PAUSE_AT names the steps, and the process writes its pid to
// `$TFMESH_PAUSE_DIR/<step>.pid` and stops dead (its event loop blocked), waiting to be killed.
import fs from "node:fs";
import path from "node:path";

/** The provider's crash points (steps such as "vm.server-accepted"). */
export const PROVIDER_CRASH_ENV = "TFMESH_CRASH_AT";
/** The lab daemon's crash points (steps such as "nova.server-accepted"). */
export const LAB_CRASH_ENV = "TFMESH_LAB_CRASH_AT";
/** The steps where a process stops dead and waits to be killed from outside. */
export const PAUSE_ENV = "TFMESH_PAUSE_AT";
/** Where a paused process writes `<step>.pid`. */
export const PAUSE_DIR_ENV = "TFMESH_PAUSE_DIR";

/** Whether `variable` names `step` (exactly, among its comma-separated steps). */
export function crashRequested(step: string, variable: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const wanted = env[variable];
  if (!wanted) return false;
  return wanted.split(",").some((s) => s.trim() === step);
}

/** The file a process paused at `step` writes its pid to. */
export function pausedPidFile(dir: string, step: string): string {
  return path.join(dir, `${step}.pid`);
}

/** Kills this process with SIGKILL when `variable` names `step`, or stops it dead when TFMESH_PAUSE_AT does; returns otherwise. */
export function crashPoint(step: string, variable: string = PROVIDER_CRASH_ENV): void {
  if (crashRequested(step, PAUSE_ENV)) pauseForever(step);
  if (!crashRequested(step, variable)) return;
  process.stderr.write(`tfmesh: ${variable}=${process.env[variable]}: killing process ${process.pid} at step ${step}\n`);
  process.kill(process.pid, "SIGKILL");
}

function pauseForever(step: string): never {
  const dir = process.env[PAUSE_DIR_ENV];
  if (!dir) throw new Error(`${PAUSE_ENV} names step ${step} but ${PAUSE_DIR_ENV} is not set`);
  process.stderr.write(`tfmesh: ${PAUSE_ENV}=${process.env[PAUSE_ENV]}: process ${process.pid} paused at step ${step}\n`);
  fs.writeFileSync(pausedPidFile(dir, step), `${process.pid}\n`);
  // Blocks the event loop itself, so nothing else of this process runs until it is killed.
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0);
}
