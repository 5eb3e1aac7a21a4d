// The test overlay: takes real catalog manifests and swaps every image for a
// local busybox stand-in (no registry is reachable), without touching manifests/.
// Everything else — volumes, configs, ports, dependencies, health gating — is
// the catalog's own.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { BUSYBOX_IMAGE } from "./harness/machine.js";

const CATALOG = join(import.meta.dirname, "../../manifests");

/** A value systemd and quadlet would both mangle if escaping were wrong. */
export const HOSTILE = `"lead %h %% $HOME \${X} $$ 'sq' back\\slash\ttab ü\u202Ertl e\u0301 trail"`;

/** PID 1 must exit on SIGTERM or every stop waits for the kill timeout. */
const loop = (setup: string) => `trap "exit 0" TERM; ${setup}; while :; do sleep 1 & wait; done`;

type Json = Record<string, unknown>;
interface Standin {
  script: string;
  health?: string;
}

const STANDINS: Record<string, Standin> = {
  // Becomes healthy only after 4 s, so health gating is observable.
  "bitcoin-knots": {
    script: loop("(sleep 4; touch /tmp/ready) & mkdir -p /tmp/www && echo bitcoind-standin > /tmp/www/index.html && httpd -p 8332 -h /tmp/www"),
    health: "test -f /tmp/ready && test -r /etc/bitcoin/bitcoin.conf",
  },
  lnd: { script: loop("test -r /etc/lnd/lnd.conf"), health: "test -r /etc/lnd/lnd.conf" },
  // Talks to bitcoind by container name across the archy network.
  electrumx: { script: loop(":"), health: "wget -q -O /dev/null http://bitcoin-knots:8332/" },
  "bitcoin-ui": { script: loop("httpd -p 80 -h /www"), health: "wget -q -O /dev/null http://127.0.0.1/" },
};

export interface OverlayOptions {
  apps: string[];
  /** Changes applied on top (e.g. bump one app), keyed by app id. */
  tweak?: Record<string, (app: Json) => void>;
  /** Contents of the UI stand-in's build context. */
  uiContainerfile?: string;
}

export const GOOD_UI = `FROM ${BUSYBOX_IMAGE}\nCOPY index.html /www/index.html\n`;
// The field incident: a release whose web root is mode 700 under another owner.
export const BAD_UI = `FROM ${BUSYBOX_IMAGE}\nCOPY index.html /www/index.html\nRUN chown -R 1000:1000 /www && chmod 700 /www\n`;

export function writeOverlay(dir: string, o: OverlayOptions): void {
  mkdirSync(dir, { recursive: true });
  for (const id of o.apps) {
    const app = parse(readFileSync(join(CATALOG, `${id}.yaml`), "utf8")) as Json;
    const standin = STANDINS[id];
    if (!standin) throw new Error(`no stand-in for ${id}`);
    for (const c of Object.values(app.containers as Record<string, Json>)) {
      if (c.build) {
        const ctx = join(dir, "build", id);
        mkdirSync(ctx, { recursive: true });
        writeFileSync(join(ctx, "Containerfile"), o.uiContainerfile ?? GOOD_UI);
        writeFileSync(join(ctx, "index.html"), `<h1>${id}</h1>\n`);
        c.build = { context: `build/${id}` };
      } else c.image = BUSYBOX_IMAGE;
      delete c.entrypoint;
      delete c.user;
      c.command = ["/bin/sh", "-c", standin.script, "standin", HOSTILE];
      if (standin.health) c.healthcheck = { cmd: standin.health, interval: "1s", timeout: "5s", retries: 30 };
      else delete c.healthcheck;
      if (id === "electrumx") c.environment = { ...(c.environment as Json), HOSTILE };
    }
    o.tweak?.[id]?.(app);
    writeFileSync(join(dir, `${id}.yaml`), stringify(app));
  }
}

export function writeSelection(file: string, apps: string[]): void {
  writeFileSync(file, stringify({ apps, settings: { bitcoin_network: "regtest", resource_limits: false } }));
}

export { cpSync };
