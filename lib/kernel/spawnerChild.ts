// The process lib/kernel/spawner.ts starts: runs the kernel tools its parent asks for and answers
// with what they printed. It is small, so starting a program from it is cheap, and the parent's
// event loop never waits for a fork of the parent's own (large) memory. It exits with its parent.
import { execFile } from "node:child_process";
import { isAllowedTool } from "./allowedTools.ts";

interface Job {
  id: number;
  file: string;
  args: string[];
  input?: string;
  timeoutMs: number;
}

process.on("message", (job: Job) => {
  if (!isAllowedTool(job.file)) {
    process.send?.({ id: job.id, code: 126, stdout: "", stderr: `${job.file} is not an allow-listed kernel tool`, killed: false });
    return;
  }
  const child = execFile(
    job.file,
    job.args,
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: job.timeoutMs, env: { ...process.env, LC_ALL: "C" } },
    (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      process.send?.({ id: job.id, code, stdout, stderr: err && !stderr && code === 1 ? err.message : stderr, killed: Boolean(err && (err as { killed?: boolean }).killed) });
    },
  );
  child.stdin?.end(job.input);
});

// It lives exactly as long as its parent: a Ctrl-C to the terminal's process group must not take it
// away while the parent still has cleanup to run through it.
process.on("disconnect", () => process.exit(0));
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(signal, () => {});
