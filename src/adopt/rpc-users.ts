// The selection's rpc_users (docs/adopt.md): bitcoind RPC users for clients outside the
// catalog. An `rpcauth` entry is carried as written (the password is never needed); a
// `secret: true` entry's password lives in the secrets store (rpc-user-<name>, 0600) —
// an adopted rpcpassword, or a CSPRNG value created on first use — and reaches
// bitcoin.conf only as an rpcauth line.
import type { Selection } from "../manifest/schema.js";
import type { Diagnostic } from "../manifest/diagnostics.js";
import type { SecretSource } from "../configs/secrets.js";
import { rpcauthLine } from "../configs/rpcauth.js";
import { rpcUserSecretName } from "./storage.js";

export function adoptedRpcauth(selection: Selection | undefined, secrets: SecretSource, diags: Diagnostic[]): string[] {
  const out: string[] = [];
  for (const u of selection?.rpc_users ?? []) {
    if (u.rpcauth) out.push(`rpcauth=${u.rpcauth}`);
    else if (u.secret) {
      const pass = secrets.get(rpcUserSecretName(u.name), diags, "password");
      if (pass) out.push(rpcauthLine(u.name, pass));
    }
  }
  return out;
}
