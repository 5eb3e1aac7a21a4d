// Every system command (systemctl, podman, quadlet) goes through one adapter:
// execa on a node, a recording fake in tests.
import { appendFileSync, readFileSync } from "node:fs";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface SystemAdapter {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export class ExecaAdapter implements SystemAdapter {
  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const { execa } = await import("execa");
    const r = await execa(cmd, args, {
      env: opts.env,
      timeout: opts.timeoutMs,
      reject: false,
      stdin: "ignore",
    });
    const code = r.exitCode ?? (r.timedOut ? 124 : 1);
    const stderr = r.timedOut ? `${String(r.stderr)}\n(timed out after ${opts.timeoutMs} ms)` : String(r.stderr ?? "");
    if (r.failed && r.exitCode === undefined && !r.timedOut) return { code: 127, stdout: "", stderr: String(r.message ?? "") };
    return { code, stdout: String(r.stdout ?? ""), stderr };
  }
}

export interface RecordedCall {
  cmd: string;
  args: string[];
}

type Responder = (call: RecordedCall) => RunResult | undefined;

/**
 * Records calls and answers them from rules (first match wins; default: success).
 * Commands listed in `passthrough` run for real (quadlet -dryrun is side-effect free).
 */
export class RecordingAdapter implements SystemAdapter {
  readonly calls: RecordedCall[] = [];
  constructor(
    private readonly rules: Responder[] = [],
    private readonly passthrough: (call: RecordedCall) => boolean = () => false,
    private readonly logFile?: string,
  ) {}

  async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const call = { cmd, args: [...args] };
    if (this.passthrough(call)) return new ExecaAdapter().run(cmd, args, opts);
    this.calls.push(call);
    // The pid lets a test sharing one log between processes see whose call is whose.
    if (this.logFile) appendFileSync(this.logFile, JSON.stringify({ ...call, pid: process.pid }) + "\n");
    for (const r of this.rules) {
      const res = r(call);
      if (res) return res;
    }
    return { code: 0, stdout: "", stderr: "" };
  }
}

/**
 * A scripted answer for the fake: a call whose command is `cmd` and whose arguments start
 * with `args` gets this result (`times`: only the first n such calls; then the next rule or
 * the default success). E.g. `podman image exists REF` → code 1, `podman pull REF` → 125.
 */
export interface Scripted {
  cmd: string;
  args?: string[];
  code?: number;
  stdout?: string;
  stderr?: string;
  times?: number;
}

export function scripted(answers: readonly Scripted[]): Responder[] {
  return answers.map((a) => {
    let left = a.times ?? Infinity;
    return (call) => {
      if (call.cmd !== a.cmd || left <= 0) return undefined;
      if (a.args && (a.args.length > call.args.length || a.args.some((x, i) => call.args[i] !== x))) return undefined;
      left--;
      return { code: a.code ?? 0, stdout: a.stdout ?? "", stderr: a.stderr ?? "" };
    };
  });
}

/**
 * The adapter for this process: ARCHY_QUADLET_ADAPTER=record:<logfile> selects the fake (tests,
 * bench); ARCHY_QUADLET_ADAPTER_SCRIPT=<json file> (an array of Scripted) scripts its answers.
 */
export function defaultAdapter(): SystemAdapter {
  const spec = process.env.ARCHY_QUADLET_ADAPTER;
  if (spec?.startsWith("record:")) {
    const script = process.env.ARCHY_QUADLET_ADAPTER_SCRIPT;
    return new RecordingAdapter(script ? scripted(JSON.parse(readFileSync(script, "utf8")) as Scripted[]) : [], (c) => c.cmd.endsWith("/quadlet") || c.cmd.endsWith("podman-system-generator"), spec.slice("record:".length) || undefined);
  }
  return new ExecaAdapter();
}
