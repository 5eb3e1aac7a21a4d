// connect APP: the CLI edge of src/plan/connect.ts — compiles the selection,
// reads hostname files and lnd's cert/macaroon under --root, prints text, JSON or
// QR codes. Secrets only with --show-secrets, only on stdout; nothing is logged.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import QRCode from "qrcode";
import { connectReport, type ConnectReport } from "../plan/connect.js";
import { Failure } from "../outcome.js";
import { compileOrExit, type CommonOpts } from "./compile-cmds.js";
import { out } from "./io.js";

export interface ConnectOpts extends CommonOpts {
  root: string;
  host?: string;
  rpcUser?: string;
  showSecrets?: boolean;
  qr?: boolean;
}

export async function connectCmd(appId: string, o: ConnectOpts): Promise<void> {
  const r = compileOrExit(o);
  const g = r.graph!;
  if (!g.containers.some((n) => n.app.id === appId)) {
    throw new Failure("invalid", `connect: no app "${appId}" in ${o.select ? `the selection ${o.select}` : "the catalog"}`);
  }
  const root = o.root ?? "/";
  const read = (p: string) => {
    try {
      return readFileSync(join(root, p));
    } catch {
      return undefined;
    }
  };
  const rep = connectReport({ g, appId, lanHost: o.host ?? `${hostname()}.local`, rpcUser: o.rpcUser, showSecrets: o.showSecrets === true, secrets: r.secrets, read });
  if (o.json) {
    out(JSON.stringify(rep, null, 2));
    return;
  }
  out(await text(rep, o.qr === true));
}

async function qr(s: string): Promise<string> {
  return QRCode.toString(s, { type: "terminal", small: true, errorCorrectionLevel: "L" });
}

export async function text(rep: ConnectReport, withQr: boolean): Promise<string> {
  const o: string[] = [`${rep.name} (${rep.app})`];
  const uris: { label: string; value: string }[] = [];
  if (rep.lan.ports.length) {
    o.push(`  LAN: ${rep.lan.host}`);
    for (const p of rep.lan.ports) o.push(`    port ${p.host}/${p.protocol} → ${p.container}:${p.port}`);
  }
  for (const x of rep.onion) o.push(`  onion ${x.name}: ${x.address ? `${x.address}:${x.port}` : "(not created yet)"}`);
  for (const e of rep.electrum) {
    o.push(`  Electrum server: ${e}`);
    uris.push({ label: `Electrum server ${e}`, value: e });
  }
  if (rep.bitcoinRpc) {
    const b = rep.bitcoinRpc;
    o.push(`  bitcoind RPC: ${b.url} (reachable ${b.reachable})`, `    user: ${b.user}`, `    password: ${b.password ?? "(hidden: add --show-secrets)"}`);
  }
  for (const l of rep.lndconnect) {
    o.push(`  lndconnect (${l.api}, ${l.via}${l.macaroon ? "" : ", no macaroon"}): ${l.uri}`);
    uris.push({ label: `lndconnect ${l.api} via ${l.via}`, value: l.uri });
  }
  for (const m of rep.missing) o.push(`  note: ${m}`);
  if (withQr) {
    for (const u of uris) o.push("", `${u.label}:`, await qr(u.value));
  }
  return o.join("\n");
}
