// A model of how podman 5.4 turns `--health-cmd TEXT` into the stored
// Config.Healthcheck.Test (pkg/specgenutil/specgenutil.go, makeHealthCheckFromCli):
//   1. TEXT is tried as a JSON string array; if that fails it is split once at
//      the first space ("compat" text).
//   2. First word CMD or NONE (any case): the *raw TEXT* is re-split on
//      whitespace (strings.Fields) and stored as is — for a JSON array that
//      yields one word like `["CMD","x"]`, which is not a program.
//   3. First word CMD-SHELL (any case): stored as is.
//   4. Otherwise a JSON array of 2+ words becomes ["CMD", ...words]; anything
//      else (one-word array, plain text) becomes ["CMD-SHELL", words joined by " "].
// The e2e suite checks this model against `podman inspect` on the real podman.

/** Go's strings.Fields: split on runs of Unicode white space. */
function fields(s: string): string[] {
  return s.split(/\s+/u).filter((w) => w !== "");
}

export function podmanStoredHealthTest(text: string): string[] {
  let words: string[];
  let isArray = true;
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v) || !v.every((w) => typeof w === "string")) throw new Error("not a string array");
    words = v as string[];
  } catch {
    const i = text.indexOf(" ");
    words = i < 0 ? [text] : [text.slice(0, i), text.slice(i + 1)];
    isArray = false;
  }
  if (words.length === 0) throw new Error("podman refuses an empty health check command");
  const first = words[0]!.toUpperCase();
  if (first === "CMD" || first === "NONE") return fields(text);
  if (first === "CMD-SHELL") return words;
  if (isArray && words.length > 1) return ["CMD", ...words];
  return ["CMD-SHELL", words.join(" ")];
}
