// `archy-quadlet backup lnd-scb` (run by archy-quadlet-lnd-backup.service) and
// `archy-quadlet backup status`: see src/backup/scb.ts.
import { join } from "node:path";
import { backupScb, scbStatus } from "../backup/scb.js";
import { Failure } from "../outcome.js";
import { out } from "./io.js";

export function lndScbCmd(o: { source: string; dest: string; keep: string; json?: boolean }): void {
  const keep = Number(o.keep);
  let r;
  try {
    r = backupScb({ source: o.source, dest: o.dest, keep });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Failure(code === "ENOENT" ? "invalid" : "failed", `backup lnd-scb: ${code === "ENOENT" ? `${o.source} does not exist (lnd writes it once its wallet exists)` : (e as Error).message}`);
  }
  if (o.json) out(JSON.stringify(r, null, 2));
  else if (r.status === "unchanged") out(`unchanged: ${r.source} (sha256 ${r.sha256}) is already backed up as ${r.copy}`);
  else out(`copied ${r.source} → ${r.copy} (${r.bytes} bytes, sha256 ${r.sha256} verified)${r.pruned.length ? `; removed ${r.pruned.length} older cop${r.pruned.length > 1 ? "ies" : "y"}` : ""}`);
}

export function scbStatusCmd(o: { source: string; dest: string; json?: boolean; root?: string }): void {
  const root = o.root && o.root !== "/" ? o.root : "";
  const s = scbStatus(join(root || "/", o.source), join(root || "/", o.dest));
  if (o.json) out(JSON.stringify(s, null, 2));
  else if (!s.sourceExists) out(`lnd channel backup: ${o.source} does not exist yet (lnd writes it once its wallet exists)`);
  else if (!s.newest) out(`lnd channel backup: WARNING no copy in ${o.dest} yet`);
  else out(`lnd channel backup: newest copy ${s.ageSeconds}s old (${s.newest})${s.stale ? " — WARNING: lnd's channel.backup is newer than it" : ""}`);
  if (s.sourceExists && s.stale) throw new Failure("findings");
}
