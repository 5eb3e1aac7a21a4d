// A real headless browser (Debian's chromium on the host) loading a page the
// guest serves: chromium runs in the guest's network namespace only (nsenter
// -n), so 127.0.0.1:<port> is the node's published port, exactly as an owner's
// browser on the node would reach it. Returns the text of every element with
// an id after the page's scripts ran, and writes a screenshot.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Machine } from "./harness/machine.js";

export const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

// Flags for a closed network, as root, without a desktop session.
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"];

function chromium(m: Machine, args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "archy-chromium-"));
  return new Promise<string>((res, rej) => {
    execFile("nsenter", ["-t", String(m.leaderPid), "-n", "--", CHROMIUM, ...FLAGS, `--user-data-dir=${profile}`, ...args], { timeout: 90_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) rej(new Error(`chromium failed: ${err.message}\n${stderr.slice(-2000)}`));
      else res(stdout);
    });
  });
}

/** Text content of each element with an id, from chromium's serialized DOM. */
export function textById(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<([a-z0-9]+)\b[^>]*\bid="([^"]+)"[^>]*>([\s\S]*?)<\/\1>/g)) {
    out.set(m[2]!, m[3]!.replace(/<[^>]*>/g, "").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/\s+/g, " ").trim());
  }
  return out;
}

export async function renderPage(m: Machine, url: string, screenshot: string): Promise<Map<string, string>> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_BIN`);
  // The page polls its APIs; give its scripts (virtual) time to finish the first round.
  const html = await chromium(m, ["--virtual-time-budget=10000", "--dump-dom", url]);
  await chromium(m, ["--virtual-time-budget=10000", "--window-size=1100,900", `--screenshot=${screenshot}`, url]);
  return textById(html);
}
