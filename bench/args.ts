// Command line of `npm run bench -- [--only a,b] [--n N | --n name=N,...] [--concurrency C]`.

export interface BenchOptions {
  only: string[] | undefined;
  /** Sample count for every benchmark ("*") or per benchmark name. */
  n: Map<string, number>;
  concurrency: number;
  help: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run bench -- [options]
  --only a,b         run only these benchmarks (lab, vm, nsm, ping, pulumi; default: all)
  --n N              samples for every selected benchmark (default per benchmark:
                     lab 3 starts, vm 10 boots, nsm 100 connections, ping 50 packets, pulumi 1 cycle)
  --n nsm=200,vm=5   samples per benchmark
  --concurrency C    in-flight NSM requests for the throughput run (default 8; 1 or 0 skips it)
  --help
Results print as tables and are written to .state/bench/<date>.json.`;

function count(text: string, what: string, min: number): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isInteger(v) || v < min) throw new UsageError(`${what} must be an integer >= ${min}, got "${text}"`);
  return v;
}

export function parseArgs(argv: string[], known: string[]): BenchOptions {
  const opts: BenchOptions = { only: undefined, n: new Map(), concurrency: 8, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // "--flag value" or "--flag=value" (split at the first "=", so "--n=nsm=200" works too).
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--only": {
        const names = value().split(",").map((s) => s.trim()).filter((s) => s !== "");
        const unknown = names.filter((s) => !known.includes(s));
        if (unknown.length > 0) throw new UsageError(`unknown benchmark ${unknown.join(", ")}; known: ${known.join(", ")}`);
        opts.only = names;
        break;
      }
      case "--n":
        for (const part of value().split(",")) {
          const at = part.indexOf("=");
          if (at < 0) {
            opts.n.set("*", count(part, "--n", 1));
            continue;
          }
          const name = part.slice(0, at);
          if (!known.includes(name)) throw new UsageError(`--n: unknown benchmark ${name}; known: ${known.join(", ")}`);
          opts.n.set(name, count(part.slice(at + 1), `--n ${name}`, 1));
        }
        break;
      case "--concurrency":
        opts.concurrency = count(value(), "--concurrency", 0);
        break;
      case "--help":
      case "-h":
        opts.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  return opts;
}

export function samplesFor(opts: BenchOptions, name: string, defaultN: number): number {
  return opts.n.get(name) ?? opts.n.get("*") ?? defaultN;
}
