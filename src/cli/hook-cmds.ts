// ota prepare / ota verify / podman heal: the hooks systemd and the OTA installer call.
import { resolve } from "node:path";
import { defaultAdapter } from "../apply/adapter.js";
import { loadOtaConfig } from "../hooks/config.js";
import { prepare, verify } from "../hooks/ota.js";
import { heal } from "../hooks/heal.js";
import { parseVersion } from "../lower/versions.js";
import { nodeEnv, guarded, type NodeOpts } from "./apply-cmds.js";
import { Failure } from "../outcome.js";
import { out } from "./io.js";

export async function otaPrepareCmd(o: NodeOpts & { release: string }): Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(o.release)) throw new Failure("invalid", `--release: expected a release id like 2026.11.1, got "${o.release}"`);
  await guarded(async () => prepare(nodeEnv(o), o.release));
}

export async function otaVerifyCmd(o: NodeOpts & { config?: string; window?: string }): Promise<void> {
  const env = nodeEnv(o);
  const outcome = await guarded(async () => {
    const cfg = loadOtaConfig(env.root, o.config);
    if (o.window) cfg.window = Number(o.window) * 1000;
    return verify(env, cfg);
  });
  if (outcome !== "ok") throw new Failure(outcome);
}

export async function podmanHealCmd(o: NodeOpts & { podmanVersion?: string }): Promise<void> {
  const env = nodeEnv(o);
  const report = await guarded(() => heal({ root: resolve(o.root), adapter: defaultAdapter(), log: env.log, podmanVersion: o.podmanVersion ? parseVersion(o.podmanVersion) as [number, number] : undefined }));
  if (o.json) out(JSON.stringify(report, null, 2));
  if (!report.healed) throw new Failure("failed");
}
