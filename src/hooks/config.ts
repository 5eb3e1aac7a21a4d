// The OTA hook's one configuration file, /etc/archy-quadlet/ota.yaml. Every key
// is optional; a missing file means the defaults below.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseYaml, zodDiagnostics } from "../manifest/read.js";
import { UserError, type Diagnostic } from "../manifest/diagnostics.js";

export const OTA_CONFIG_REL = "etc/archy-quadlet/ota.yaml";

const seconds = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/)]).transform((v) => {
  if (typeof v === "number") return v * 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v)!;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
});

export const otaConfigSchema = z.strictObject({
  probe: z
    .strictObject({
      url: z.url().default("https://127.0.0.1/"),
      expect_status: z.number().int().min(100).max(599).default(200),
      request_timeout: seconds.default(5000),
    })
    .default({ url: "https://127.0.0.1/", expect_status: 200, request_timeout: 5000 }),
  /** How long the release has to become healthy. */
  window: seconds.default(90_000),
  retry_interval: seconds.default(3000),
  /** Also require every archy service active and its health check passing. */
  check_services: z.boolean().default(false),
  /** Run in order after a rollback, e.g. [mv, /srv/web-ui.bak, /srv/web-ui]; argv lists, no shell. */
  restore_commands: z.array(z.array(z.string().min(1)).min(1)).default([]),
});

export type OtaConfig = z.output<typeof otaConfigSchema>;

export function loadOtaConfig(root: string, file = join(root, OTA_CONFIG_REL)): OtaConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return otaConfigSchema.parse({});
    throw new UserError([{ file, message: `cannot read: ${(e as NodeJS.ErrnoException).code}` }]);
  }
  const diags: Diagnostic[] = [];
  const src = { file, text };
  const parsed = text.trim() === "" ? { value: {} } : parseYaml(src, diags);
  if (!parsed) throw new UserError(diags);
  const r = otaConfigSchema.safeParse(parsed.value);
  if (!r.success) throw new UserError("doc" in parsed ? zodDiagnostics(src, parsed as Parameters<typeof zodDiagnostics>[1], r.error) : [{ file, message: r.error.message }]);
  return r.data;
}
