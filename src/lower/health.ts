// How a manifest's health check becomes quadlet's HealthCmd= value.
//
// Quadlet hands HealthCmd= to `podman run --health-cmd` unchanged, and podman
// 5.4 re-reads that text by its own rule (pkg/specgenutil,
// makeHealthCheckFromCli). Measured on Debian trixie's podman 5.4.2
// (`podman inspect --format '{{json .Config.Healthcheck.Test}}'`, then
// `podman healthcheck run`):
//
//   --health-cmd '["CMD","/bin/true"]'        -> ["[\"CMD\",\"/bin/true\"]"]   exit 1 (re-split on whitespace: one bogus word)
//   --health-cmd '["/bin/sh","-c","exit 0"]'  -> ["CMD","/bin/sh","-c","exit 0"] exit 0 (exec form)
//   --health-cmd '["/bin/true"]'              -> ["CMD-SHELL","/bin/true"]    exit 0 (a one-word array is a shell command)
//   --health-cmd 'CMD /bin/true'              -> ["CMD","/bin/true"]          exit 0 (Docker-compat text, split on whitespace)
//   --health-cmd '["CMD-SHELL","true"]'       -> ["CMD-SHELL","true"]         exit 0
//
// So: a list of two or more words goes as a JSON array *without* the CMD word;
// a one-word list goes as the text `CMD word` (the schema refuses whitespace in
// it and a leading CMD/CMD-SHELL/NONE word); a string goes as
// ["CMD-SHELL", string]. The JSON forms start with `[` and end with `]`, so
// quadlet's trimming of leading/trailing quotes cannot touch them.
import type { Container } from "../manifest/schema.js";

type HealthCmd = NonNullable<Container["healthcheck"]>["cmd"];

/** The HealthCmd= value for a manifest's health check command. */
export function healthCmdValue(cmd: HealthCmd): string {
  if (typeof cmd === "string") return JSON.stringify(["CMD-SHELL", cmd]);
  if (cmd.length === 1) return `CMD ${cmd[0]}`;
  return JSON.stringify(cmd);
}

/** What the manifest means podman to store as Config.Healthcheck.Test. */
export function intendedHealthTest(cmd: HealthCmd): string[] {
  return typeof cmd === "string" ? ["CMD-SHELL", cmd] : ["CMD", ...cmd];
}
