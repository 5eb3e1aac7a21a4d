// One HTTP(S) probe with a hard timeout. A self-signed certificate is accepted
// only when the target is loopback: the node's own nginx, nothing else.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface ProbeResult {
  ok: boolean;
  evidence: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export function probeOnce(url: string, expectStatus: number, timeoutMs: number): Promise<ProbeResult> {
  const u = new URL(url);
  const https = u.protocol === "https:";
  const req = https ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const r = req(u, { method: "GET", rejectUnauthorized: !(https && LOOPBACK.has(u.hostname)), timeout: timeoutMs }, (res) => {
      res.resume();
      const ok = res.statusCode === expectStatus;
      finish({ ok, evidence: `${url} answered ${res.statusCode}${ok ? "" : ` (want ${expectStatus})`}` });
    });
    // `timeout` above is idle time; this bounds the whole exchange (a server that trickles never hangs us).
    const timer = setTimeout(() => {
      r.destroy();
      finish({ ok: false, evidence: `${url} did not answer within ${timeoutMs} ms` });
    }, timeoutMs);
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", (e) => finish({ ok: false, evidence: `${url}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
    r.end();
  });
}
