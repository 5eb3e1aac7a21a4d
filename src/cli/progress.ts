// Progress for long steps (image pulls and builds behind `systemctl restart`
// take minutes). On a terminal: one compact line, rewritten in place with \r,
// showing the step, its position in the plan and the time it has taken. Piped,
// under journald or with TERM=dumb: exactly one log line per step, as before.
import type { RunOptions, RunResult, SystemAdapter } from "../apply/adapter.js";

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  /** The `log` callback for the apply layer: every line it emits. */
  log: (line: string) => void;
  /** Wrap the command adapter so the progress line knows when a step's command ends. */
  wrap: (adapter: SystemAdapter) => SystemAdapter;
  /** Clear the progress line (if any). */
  end: () => void;
}

/** Whether a stream gets the rewritten progress line. */
export function interactive(stream: ProgressStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.TERM !== "dumb" && !env.JOURNAL_STREAM;
}

// What the apply layer logs for a step (src/apply/apply.ts execute()) and for a plan (formatPlan).
const STEP = /^(stop|start|restart) (\S+) \(/;
const NETWORK_RM = /^podman network rm (\S+)$/;
const PLAN_STEP = /^ {2}(stop|start|restart|podman network rm) /;

const fmtTime = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
};

/**
 * `plain` is how a permanent line is written when not interactive (the CLI's
 * out/err, which add the newline); `stream` is where the progress line goes.
 */
export function progress(stream: ProgressStream, plain: (line: string) => void, opts: { tty?: boolean; now?: () => number; tick?: number } = {}): Progress {
  const tty = opts.tty ?? interactive(stream);
  if (!tty) return { log: plain, wrap: (a) => a, end: () => {} };

  const now = opts.now ?? Date.now;
  let total = 0;
  let index = 0;
  let failed = 0;
  let skipped = 0;
  let started = 0;
  let stepsStarted = 0;
  let shown = false;
  let current: { text: string; since: number; match?: (cmd: string, args: readonly string[]) => boolean } | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;

  const width = () => Math.max(20, (stream.columns ?? 80) - 1);
  const clear = () => {
    if (shown) stream.write("\r\x1b[K");
    shown = false;
  };
  const render = () => {
    if (!current) return;
    const pos = total > 0 && index > 0 ? `[${index}/${total}] ` : "";
    let line = `${pos}${current.text} … ${fmtTime(now() - current.since)}`;
    if (line.length > width()) line = `${line.slice(0, width() - 1)}…`;
    stream.write(`\r\x1b[K${line}`);
    shown = true;
  };
  const stopTimer = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const show = (c: NonNullable<typeof current>) => {
    current = c;
    render();
    if (!timer) {
      timer = setInterval(render, opts.tick ?? 1000);
      timer.unref?.();
    }
  };
  const permanent = (line: string) => {
    clear();
    stream.write(line.endsWith("\n") ? line : `${line}\n`);
    if (current) render();
  };
  const finishStep = () => {
    current = undefined;
    stopTimer();
    clear();
    if (total > 0 && index >= total) {
      stream.write(`${index}/${total} steps done${failed ? `, ${failed} failed` : ""}${skipped ? `, ${skipped} skipped` : ""} in ${fmtTime(now() - started)}\n`);
      total = 0;
      index = 0;
      failed = 0;
      skipped = 0;
    }
  };

  const log = (line: string) => {
    const planSteps = line.split("\n").filter((l) => PLAN_STEP.test(l)).length;
    if (line.includes("plan: ")) {
      total = planSteps;
      index = 0;
      failed = 0;
      skipped = 0;
      stepsStarted = 0;
    }
    const step = STEP.exec(line);
    const rm = NETWORK_RM.exec(line);
    if (!line.includes("\n") && (step || rm)) {
      if (stepsStarted === 0) started = now();
      stepsStarted++;
      index++;
      const match = step
        ? (cmd: string, args: readonly string[]) => cmd === "systemctl" && args[0] === step[1] && args[1] === step[2]
        : (cmd: string, args: readonly string[]) => cmd === "podman" && args[0] === "network" && args[1] === "rm";
      show({ text: line, since: now(), match });
      return;
    }
    if (/^skip \S+: /.test(line)) {
      if (stepsStarted === 0) started = now();
      stepsStarted++;
      index++;
      skipped++;
      permanent(line);
      if (total > 0 && index >= total) finishStep();
      return;
    }
    permanent(line);
  };

  const wrap = (adapter: SystemAdapter): SystemAdapter => ({
    async run(cmd: string, args: readonly string[], runOpts?: RunOptions): Promise<RunResult> {
      const ours = current?.match?.(cmd, args) === true;
      // A command outside the plan's steps (daemon-reload, the quadlet preflight): shown while it runs.
      const other = !current;
      if (other) show({ text: `${cmd.slice(cmd.lastIndexOf("/") + 1)} ${args.join(" ")}`, since: now() });
      let ok = false;
      try {
        const r = await adapter.run(cmd, args, runOpts);
        ok = r.code === 0;
        return r;
      } finally {
        if (ours) {
          if (!ok) failed++;
          finishStep();
        }
        else if (other) {
          current = undefined;
          stopTimer();
          clear();
        }
      }
    },
  });

  return {
    log,
    wrap,
    end: () => {
      current = undefined;
      stopTimer();
      clear();
    },
  };
}
