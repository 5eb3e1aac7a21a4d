// Bitcoin Core's share/rpcauth/rpcauth.py, with one change: the salt is derived
// from the password instead of drawn at random, so regenerating bitcoin.conf
// gives identical bytes and drift is visible.
import { createHmac } from "node:crypto";

export function rpcauthHash(salt: string, password: string): string {
  // The key is the salt's hex *text*, exactly as rpcauth.py does it.
  return createHmac("sha256", Buffer.from(salt, "utf8")).update(password, "utf8").digest("hex");
}

export function deriveSalt(user: string, password: string): string {
  return createHmac("sha256", password).update(`archy-quadlet rpcauth salt v1\0${user}`).digest("hex").slice(0, 32);
}

export function rpcauthLine(user: string, password: string): string {
  const salt = deriveSalt(user, password);
  return `rpcauth=${user}:${salt}$${rpcauthHash(salt, password)}`;
}
