// `check|generate [--out D] [--manifests D] [--select F] [--podman-version X.Y] [--secrets D] [--json]`
// answered from the stamp when it proves the tree current (generate then has
// nothing to write). Returns false to hand over to the full CLI, which also
// owns every error message.
import { upToDate } from "../plan/stamp.js";

const VALUE_FLAGS = new Map([
  ["--out", "out"],
  ["--manifests", "manifests"],
  ["--select", "select"],
  ["--podman-version", "podmanVersion"],
  ["--secrets", "secrets"],
]);

export function quickCheck(argv: string[]): boolean {
  const cmd = argv[0];
  if (cmd !== "check" && cmd !== "generate") return false;
  const o: Record<string, string | boolean> = { out: "./out", manifests: "./manifests" };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (flag === "--json" && eq < 0 && cmd === "check") o.json = true;
    else if (VALUE_FLAGS.has(flag)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v.startsWith("-")) return false;
      o[VALUE_FLAGS.get(flag)!] = v;
    } else return false;
  }
  const inputs = { manifests: o.manifests as string, select: o.select as string | undefined, podmanVersion: (o.podmanVersion as string | undefined) ?? "5.4", secrets: o.secrets as string | undefined };
  const files = upToDate(o.out as string, inputs);
  if (files === undefined) return false;
  if (cmd === "generate") process.stdout.write(`${o.out}: ${files} files, unchanged\n`);
  else if (o.json) process.stdout.write(`${JSON.stringify({ ok: true, drift: [] }, null, 2)}\n`);
  return true;
}
