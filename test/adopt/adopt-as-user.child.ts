// Runs adopt in a process of its own (adopt.test.ts starts it as an unprivileged uid when the
// tests run as root, which reads every file): argv[2] is JSON { opts, ps, inspect, volumes }
// with the podman JSON as file paths. Prints { kind, message } of the refusal, or { ok: true }.
import { readFileSync } from "node:fs";
import { RecordingAdapter, type RecordedCall } from "../../src/apply/adapter.js";
import { adopt, type AdoptOptions } from "../../src/adopt/adopt.js";
import { Failure } from "../../src/outcome.js";

const a = JSON.parse(process.argv[2]!) as { opts: AdoptOptions; ps: string; inspect: string; volumes: Record<string, string> };
const read = (p: string) => readFileSync(p, "utf8");
const adapter = new RecordingAdapter([
  (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "ps" ? { code: 0, stdout: read(a.ps), stderr: "" } : undefined),
  (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "container" ? { code: 0, stdout: read(a.inspect), stderr: "" } : undefined),
  (c: RecordedCall) => {
    if (c.cmd !== "podman" || c.args[0] !== "volume") return undefined;
    const v = a.volumes[c.args[2]!];
    return v ? { code: 0, stdout: read(v), stderr: "" } : { code: 125, stdout: "", stderr: `Error: no such volume ${c.args[2]}` };
  },
]);
try {
  await adopt(adapter, a.opts);
  process.stdout.write(JSON.stringify({ ok: true, uid: process.getuid?.() }));
} catch (e) {
  process.stdout.write(JSON.stringify({ kind: e instanceof Failure ? e.kind : "crash", message: e instanceof Error ? e.message : String(e), uid: process.getuid?.() }));
}
