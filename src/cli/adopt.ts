// adopt: the CLI edge of src/adopt/adopt.ts — text or JSON on stdout. Secret values
// are never printed (names only); the diff is of the selection file, which holds none.
import { resolve } from "node:path";
import { adopt, type AdoptReport } from "../adopt/adopt.js";
import { defaultAdapter } from "../apply/adapter.js";
import { out } from "./io.js";

export interface AdoptCliOpts {
  select: string;
  manifests: string;
  root: string;
  secrets: string;
  write?: boolean;
  json?: boolean;
  bitcoinConf?: string;
  lndConf?: string;
}

export async function adoptCmd(o: AdoptCliOpts): Promise<void> {
  const rep = await adopt(defaultAdapter(), {
    select: resolve(o.select),
    manifests: resolve(o.manifests),
    root: resolve(o.root),
    secrets: o.secrets,
    write: o.write === true,
    bitcoinConf: o.bitcoinConf,
    lndConf: o.lndConf,
  });
  if (o.json) {
    out(JSON.stringify(rep, null, 2));
    return;
  }
  out(text(rep, o.write === true));
}

export function text(r: AdoptReport, write: boolean): string {
  const o: string[] = [];
  if (r.matched.length === 0) o.push("no existing container matches the selection: empty proposal");
  for (const m of r.matched) o.push(`adopt ${m.legacy} (${m.image}, ${m.state}) as ${m.container} [by ${m.by}]`);
  const storage = Object.entries(r.storage).flatMap(([app, s]) => Object.entries(s).map(([src, t]) => `  ${app}.${src}: ${t}`));
  if (storage.length) o.push("storage (used in place, never copied):", ...storage);
  for (const u of r.unmapped_mounts) o.push(`unmapped: ${u.legacy} ${u.type} ${u.source} → ${u.destination} (${u.why}); it stays where it is, unused`);
  for (const f of r.fresh) o.push(`starts empty: ${f.app}.${f.source} (${f.container}:${f.target})`);
  for (const w of r.ownership) o.push(`ownership: ${w.path} is owned by uid ${w.owner}, ${w.container} runs as ${w.expected} (not changed: chown it yourself if the app cannot write)`);
  if (r.settings.bitcoin_network) o.push(`network: ${r.settings.bitcoin_network}`);
  for (const [app, s] of Object.entries(r.settings.app_settings ?? {})) o.push(`app_settings.${app}: ${Object.entries(s).map(([k, v]) => `${k}=${String(v)}`).join(", ")}`);
  for (const u of r.rpc_users) o.push(`rpc user ${u.name}: ${u.rpcauth ? "rpcauth line carried" : "password moved to the secrets store"}`);
  for (const n of r.not_carried) o.push(`not carried: ${n.file}:${n.line}: ${n.key} (${n.why})`);
  for (const n of r.notes) o.push(`note: ${n}`);
  if (r.diff) o.push("", r.diff.trimEnd());
  o.push(write ? (r.written ? "selection written; next: archy-quadlet apply" : "selection already up to date") : "nothing written (add --write)");
  return o.join("\n");
}
