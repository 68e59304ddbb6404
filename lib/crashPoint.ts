// Crash points for tests: a process dies at a named step as `kill -9` at that moment would end it
// (no finally blocks, no exit handlers, no answer sent), so a test can put a crash exactly between
// two writes instead of timing one. The provider reads TFMESH_CRASH_AT, the lab daemon
// TFMESH_LAB_CRASH_AT; each holds one step name or several separated by commas. Unset (always, in
// normal use) it costs one environment lookup.

/** The provider's crash points (steps such as "vm.server-accepted"). */
export const PROVIDER_CRASH_ENV = "TFMESH_CRASH_AT";
/** The lab daemon's crash points (steps such as "nova.server-accepted"). */
export const LAB_CRASH_ENV = "TFMESH_LAB_CRASH_AT";

/** Whether `variable` names `step` (exactly, among its comma-separated steps). */
export function crashRequested(step: string, variable: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const wanted = env[variable];
  if (!wanted) return false;
  return wanted.split(",").some((s) => s.trim() === step);
}

/** Kills this process with SIGKILL when `variable` names `step`; returns otherwise. */
export function crashPoint(step: string, variable: string = PROVIDER_CRASH_ENV): void {
  if (!crashRequested(step, variable)) return;
  process.stderr.write(`tfmesh: ${variable}=${process.env[variable]}: killing process ${process.pid} at step ${step}\n`);
  process.kill(process.pid, "SIGKILL");
}
