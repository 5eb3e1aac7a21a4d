// How a run ends, as a kind. Code below the CLI says what happened; only the
// CLI entry (src/cli/main.ts, EXIT_CODES) maps a kind to the number the run ends with.
//   findings     the check found something (drift, a unit down)
//   invalid      bad input or usage: nothing was changed
//   failed       a system step failed (quadlet, systemctl, the disk)
//   locked       another apply/rollback/reconcile holds the lock
//   rolled-back  OTA: the release failed verification and was rolled back
//   manual       OTA: still failing after a rollback: a person must look
export type Outcome = "ok" | "findings" | "invalid" | "failed" | "locked" | "rolled-back" | "manual";

/** An expected way for a run to end; its message is shown as is (no stack trace). */
export class Failure extends Error {
  constructor(
    readonly kind: Exclude<Outcome, "ok">,
    message = "",
  ) {
    super(message);
  }
}
