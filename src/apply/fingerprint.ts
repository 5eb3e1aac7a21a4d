// reconcile runs every 30 s: when the inputs fingerprint exactly as when the
// current generation was made (and its tree still hashes as written), there is
// nothing to compile. The fingerprint covers the program too, so a new binary
// recompiles once. Loads only node: modules, so a no-op reconcile stays cheap.
import { createHash, type Hash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export interface FingerprintInputs {
  manifests: string;
  select?: string;
  podman?: string;
  secrets: string;
}

// Set by scripts/build.mjs to a hash of every source the bundle was built from.
declare const __ARCHY_BUILD__: string;

function hashDir(h: Hash, dir: string, rel = ""): void {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(join(dir, r));
    if (st.isDirectory()) hashDir(h, dir, r);
    else if (st.isFile()) h.update(`f\0${r}\0${st.mode & 0o777}\0${st.size}\0`).update(readFileSync(join(dir, r)));
  }
}

/** A hash of the program and every input; undefined for a source run (no build id) or unreadable inputs. */
export function fingerprint(o: FingerprintInputs): string | undefined {
  if (typeof __ARCHY_BUILD__ !== "string") return undefined;
  try {
    const h = createHash("sha256").update(`archy-quadlet inputs v1\0${__ARCHY_BUILD__}\0${o.podman ?? ""}\0`);
    h.update("manifests\0");
    hashDir(h, resolve(o.manifests));
    if (o.select) h.update("\0select\0").update(readFileSync(o.select));
    // Secret values only ever enter as part of a hash.
    h.update(`\0secrets\0${resolve(o.secrets)}\0${statSync(o.secrets).mode}\0`);
    hashDir(h, resolve(o.secrets));
    return h.digest("hex");
  } catch {
    return undefined;
  }
}
