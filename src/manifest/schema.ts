// The manifest format: one YAML file per app. Strict everywhere: an unknown key
// is an error, because a typo silently ignored ends up as a missing flag on a node.
import { z } from "zod";

// Characters no value that reaches a unit file may contain: systemd and quadlet
// are line-based, and NUL truncates argv.
const noLineBreaks = (s: string) => !/[\n\r\0]/.test(s);
// A lone UTF-16 surrogate (YAML "\ud800") has no UTF-8 form: the unit file would
// carry U+FFFD instead. U+0080 comes out of quadlet as the raw byte \x80.
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const lineSafe = z
  .string()
  .refine(noLineBreaks, { message: "must not contain a newline, carriage return or NUL character" })
  .refine((s) => !UNPAIRED_SURROGATE.test(s), { message: "must be valid Unicode: it contains an unpaired surrogate (\\uD800-\\uDFFF), which has no UTF-8 form" })
  .refine((s) => !s.includes("\u0080"), { message: "must not contain U+0080: quadlet writes it into ExecStart= as the raw byte \\x80, so podman would not receive it" });

// Names and descriptions are shown in terminals, the journal and the UI: no
// control characters (terminal escapes) and no bidirectional overrides (spoofing).
// (Tab is allowed; NUL, CR, LF and U+0080 are lineSafe's.)
const displayText = lineSafe.refine((s) => !/[\x01-\x08\x0B\x0C\x0E-\x1F\x7F\x81-\x9F\u200E\u200F\u202A-\u202E\u2066-\u2069]/.test(s), {
  message: "is display text: it must not contain control characters or bidirectional-override characters",
});

export const appId = z
  .string()
  .min(1, { message: "app id must not be empty", abort: true })
  .max(48, "app id must be at most 48 characters")
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "app id must be DNS-safe: lowercase letters, digits and '-', not starting or ending with '-'");

const containerName = z
  .string()
  .min(1)
  .max(48)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "container name must be DNS-safe: lowercase letters, digits and '-'");

// Image references: registry/path:tag, optionally pinned by digest. The first
// component must name a registry (contain "." or ":", or be "localhost"): that is
// quadlet's own test for a fully qualified name (it warns on anything else, and
// podman would resolve a short name through registries.conf's search list).
const imageRef = z
  .string()
  .regex(
    /^(?=localhost[:/]|[^/]*[.:][^/]*\/)[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
    "image must be a fully qualified reference like docker.io/library/nginx:1.27 (optionally @sha256:<64 hex>)",
  );

const duration = z
  .string()
  .regex(/^([0-9]+(ms|s|m|h))+$/, "duration must look like 30s, 1m30s or 500ms");

// Paths inside a container: absolute, no '..', a conservative character set so
// they pass through quadlet's unsplit Volume=/Tmpfs= values untouched.
const containerPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._@+\/-]*$/, "container path must be absolute and use only letters, digits and ._@+-/")
  .refine((p) => !p.split("/").includes(".."), "container path must not contain '..'");

// Host paths: relative ones live under the app's data root; absolute ones are
// only allowed for allow-listed system apps (checked after parsing).
const hostPath = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._@+\/-]+$/, "host path may use only letters, digits and ._@+-/")
  .refine((p) => !p.split("/").includes(".."), "host path must not contain '..'");

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are [A-Za-z_][A-Za-z0-9_]*");

const command = z.array(lineSafe).min(1, "command must have at least one word");

// Exec= words go through quadlet's splitter and then systemd's ExecStart= parser:
// quadlet stops at an empty word (dropping it and everything after), and systemd
// reads a bare `;` as a command separator. Neither can be quoted past both.
const execWord = lineSafe
  .min(1, "an empty argument cannot be passed through quadlet's Exec= (it drops it and every argument after it)")
  .refine((w) => w !== ";", "a lone `;` argument would be read by systemd as a command separator");
const execCommand = z.array(execWord).min(1, "command must have at least one word");

export const dependencySchema = z.strictObject({
  condition: z.enum(["started", "healthy"]).default("started").describe("started: ordering only; healthy: wait until its health check passes"),
  optional: z.boolean().default(false).describe("optional dependencies only order and pull in (Wants=, After=); required ones also gate the start: it runs only while the provider is active (never Requires=, which would propagate the provider's restarts)"),
});

// Settings (docs/settings.md): typed values an owner chooses in the selection's
// `app_settings`, declared by the app that consumes them.
export const settingKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,47}$/, "setting names are lowercase letters, digits and '_', starting with a letter (at most 48 characters)");
export const settingValue = z.union([z.boolean(), z.number().int(), lineSafe]);

const appDependencySchema = dependencySchema.extend({
  containers: z.array(containerName).min(1).optional().describe("which of this app's containers need the dependency (default: all)"),
  requires_settings: z
    .record(settingKey, settingValue)
    .optional()
    .describe("settings the dependency's provider must have, e.g. { txindex: true, prune: 0 }: a selection setting another value is an error; a value left at its default is set for this app"),
});

const volumeSchema = z.strictObject({
  source: hostPath.describe("relative to the app's data root (/var/lib/archy/apps/<id>/), or absolute for system apps"),
  target: containerPath,
  read_only: z.boolean().default(false),
  app: appId.optional().describe("read another app's data: source is relative to that app's data root; must be read_only and a dependency"),
  owner: z
    .string()
    .regex(/^[0-9]{1,10}:[0-9]{1,10}$/, "owner must be uid:gid (numeric)")
    .optional()
    .describe("uid:gid the host directory is created with (relative sources only; not recursive)"),
});

const portSchema = z.strictObject({
  host: z.number().int().min(1).max(65535),
  container: z.number().int().min(1).max(65535),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  bind: z.union([z.ipv4(), z.literal("::")]).optional().describe("host address to bind; default all addresses"),
});

// Exec-form health checks reach podman 5.4 as `--health-cmd` text, which podman
// re-reads by a rule of its own (pkg/specgenutil makeHealthCheckFromCli): a JSON
// array of two or more words is stored as exec form ["CMD", ...words], but one
// whose first word is CMD, CMD-SHELL or NONE (any case) is re-split on
// whitespace as Docker-compat text, and a one-word array becomes a *shell*
// command. src/lower/health.ts lowers around that; these are the lists it cannot
// carry faithfully.
const healthExec = z
  .array(lineSafe)
  .min(1, "command must have at least one word")
  .refine((ws) => (ws[0] ?? "x") !== "", { message: "the program name cannot be empty", path: [0] })
  .refine((ws) => !["CMD", "CMD-SHELL", "NONE"].includes((ws[0] ?? "").toUpperCase()), {
    message: "write the command itself: podman adds the CMD word, and a leading CMD/CMD-SHELL/NONE makes it mis-store the test",
    path: [0],
  })
  .refine((ws) => ws.length !== 1 || !/\s/.test(ws[0]!), {
    message: "a one-word exec check cannot contain whitespace (podman splits it); use the string (shell) form",
    path: [0],
  });

const healthSchema = z.strictObject({
  cmd: z.union([lineSafe.min(1), healthExec]).describe("a shell command line (run with /bin/sh -c) or an exec-form word list (run without a shell)"),
  interval: duration.default("30s"),
  timeout: duration.default("10s"),
  retries: z.number().int().min(1).max(100).default(3),
  start_period: duration.default("0s"),
});

const buildSchema = z.strictObject({
  context: hostPath.describe("directory relative to the manifests dir holding the build context"),
  file: hostPath.default("Containerfile").describe("Containerfile path relative to the context"),
  target: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
  args: z.record(envName, lineSafe).optional(),
});

// Derived config files a container consumes (issue: derived configs). The
// compiler writes them and bind-mounts them read-only at `mount`.
export const RPC_ENV_VALUES = ["user", "password", "host", "port", "url", "network", "zmq_block", "zmq_tx", "cookie", "p2p_whitebind"] as const;

// Network naming schemes: the selection's bitcoin_network spelled the way each
// upstream spells it (src/configs/derive.ts NETWORK_NAMES has the table).
export const NETWORK_SCHEMES = ["core", "lnd", "cln", "electrs", "nbitcoin"] as const;

// A value template for the .env kinds: literal text plus {{network.<scheme>}}
// (the selection's network) and {{secret.<name>}} (a per-app secret from the
// store: 64 hex characters, created once, never regenerated). Nothing else may
// sit between double braces, so a typo is an error, not a literal.
const TEMPLATE_SLOT = new RegExp(`^(network\\.(${NETWORK_SCHEMES.join("|")})|secret\\.[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?)$`);
export const envTemplate = lineSafe
  .refine((s) => s.includes("{{"), { message: "a template needs at least one {{network.<scheme>}} or {{secret.<name>}} slot (plain values belong in `environment`)" })
  .refine((s) => templateSlotsOk(s), {
    message: `template slots are {{network.<${NETWORK_SCHEMES.join("|")}>}} or {{secret.<name>}} (name: [a-z0-9-], at most 32 characters)`,
  });

/** Every {{…}} is a known slot, and no stray {{ or }} is left over. */
export function templateSlotsOk(s: string): boolean {
  let ok = true;
  const rest = s.replace(/\{\{([^{}]*)\}\}/g, (_, slot: string) => {
    if (!TEMPLATE_SLOT.test(slot)) ok = false;
    return "";
  });
  return ok && !rest.includes("{{") && !rest.includes("}}");
}

// Tor onion services (docs/tor.md): with tor selected, each entry becomes one
// HiddenServiceDir <tor data>/<app>-<name> and one HiddenServicePort in the derived torrc.
const onionSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, "onion name: lowercase letters, digits and '-', at most 32 characters").describe("unique within the app; the hidden service directory is <app>-<name>"),
  port: z.number().int().min(1).max(65535).describe("container port the service forwards to (declared in `ports`)"),
  virtual_port: z.number().int().min(1, "virtual_port must be within 1-65535").max(65535, "virtual_port must be within 1-65535").optional().describe("port on the .onion address (default: port)"),
});

const configSchema = z.strictObject({
  kind: z.enum(["bitcoin.conf", "lnd.conf", "electrumx.env", "nginx.conf", "bitcoin-rpc.env", "app.env", "cln.conf", "torrc"]),
  mount: containerPath.optional().describe("where the file appears in the container (not for the .env kinds, which are environment files)"),
  env: z
    .record(envName, z.union([z.enum(RPC_ENV_VALUES), envTemplate]))
    .optional()
    .describe(
      "bitcoin-rpc.env: variable name → which RPC value it carries (e.g. CORE_RPC_PASSWORD: password) or a template; app.env: variable name → template with {{network.<scheme>}} / {{secret.<name>}} slots",
    ),
  wallet_password: containerPath
    .optional()
    .describe("lnd.conf only: mount the app's wallet password (secret store) here; lnd.conf then sets wallet-unlock-password-file and wallet-unlock-allow-create"),
});

// Where a setting's value goes: a derived config (a template variable, or with
// `option` an `<option>=<value>` line written only when the value is not the
// default), an environment variable, or a command argument of the app's containers.
const settingTarget = z
  .strictObject({
    config: z.enum(["bitcoin.conf", "lnd.conf", "electrumx.env", "nginx.conf", "bitcoin-rpc.env", "app.env", "cln.conf", "torrc"]).optional().describe("a derived config: its template reads the value (or `option` writes a line)"),
    option: z.string().regex(/^[a-z][a-z0-9.-]{0,63}$/, "option names are lowercase letters, digits, '.' and '-'").optional().describe("with config: the line `<option>=<value>`, written only when the value is not the default"),
    env: envName.optional().describe("an environment variable of the containers (replaces the manifest's value)"),
    arg: lineSafe.refine((s) => s.includes("{value}"), "arg must contain {value}").optional().describe("a command argument appended to the command, {value} replaced, e.g. --cache={value}"),
    containers: z.array(containerName).min(1).optional().describe("env/arg: which containers (default: all of the app's)"),
  })
  .superRefine((t, ctx) => {
    const n = [t.config, t.env, t.arg].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: "custom", message: "a setting goes to exactly one of `config`, `env` or `arg`" });
    if (t.option !== undefined && t.config === undefined) ctx.addIssue({ code: "custom", path: ["option"], message: "`option` needs `config`" });
    if (t.containers !== undefined && t.config !== undefined) ctx.addIssue({ code: "custom", path: ["containers"], message: "`containers` applies to env and arg (a config reaches the containers that mount it)" });
  });

const settingCommon = {
  description: displayText.min(1).max(200).describe("one line, shown by `archy-quadlet settings` and the dashboard"),
  to: settingTarget,
};

export const settingSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("boolean"), default: z.boolean(), ...settingCommon }),
    z.strictObject({
      type: z.literal("integer"),
      default: z.number().int(),
      min: z.number().int().optional(),
      max: z.number().int().optional(),
      unit: z.string().regex(/^[A-Za-z%/]{1,16}$/).optional().describe("e.g. MiB, sat, ms"),
      also: z.array(z.number().int()).min(1).optional().describe("values allowed outside min..max (prune: 0 = keep all blocks)"),
      ...settingCommon,
    }),
    z.strictObject({
      type: z.literal("string"),
      default: lineSafe,
      enum: z.array(lineSafe).min(1).optional(),
      pattern: z.string().max(200).optional().describe("a regular expression the whole value must match"),
      max_length: z.number().int().min(1).max(4096).optional(),
      ...settingCommon,
    }),
  ])
  .superRefine((s, ctx) => {
    if (s.type === "string" && s.pattern !== undefined) {
      try {
        new RegExp(s.pattern);
      } catch {
        ctx.addIssue({ code: "custom", path: ["pattern"], message: "pattern is not a valid regular expression" });
      }
    }
    if (s.type === "integer" && s.min !== undefined && s.max !== undefined && s.min > s.max) ctx.addIssue({ code: "custom", path: ["max"], message: "max is below min" });
  });

export const containerSchema = z
  .strictObject({
    image: imageRef.optional(),
    build: buildSchema.optional(),
    entrypoint: command.optional(),
    command: execCommand.optional().describe("arguments after the image (Exec=)"),
    environment: z.record(envName, lineSafe).optional(),
    volumes: z.array(volumeSchema).optional(),
    ports: z.array(portSchema).optional(),
    onion: z.array(onionSchema).optional().describe("Tor onion services for this container (inert unless tor is selected)"),
    healthcheck: healthSchema.optional(),
    user: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/, "user must be name, uid, or uid:gid").optional(),
    read_only: z.boolean().optional(),
    aliases: z.array(containerName).optional(),
    stop_timeout: z.number().int().min(1).max(3600).optional().describe("seconds podman waits after SIGTERM"),
    start_timeout: z.number().int().min(60).max(86_400).optional().describe("seconds systemd allows for pull/build and, with Notify=healthy, for becoming healthy (default 900)"),
    depends_on: z.record(containerName, dependencySchema).optional().describe("other containers of the same app"),
    configs: z.array(configSchema).optional(),
    tmpfs: z.array(containerPath).optional(),
    memory: z.string().regex(/^[0-9]+[kmg]$/, "memory must look like 512m or 2g").optional(),
    pids_limit: z.number().int().min(1).max(1_000_000).optional(),
    capabilities: z
      .array(
        z
          .string()
          .regex(/^[A-Z_]+$/, "capability names are upper case, e.g. NET_BIND_SERVICE")
          .refine((c) => c !== "ALL" && c !== "CAP_ALL", "ALL would undo the dropping of every capability; name each capability the container needs"),
      )
      .optional()
      .describe("capabilities to keep; all others are dropped"),
  })
  .superRefine((c, ctx) => {
    if (c.image !== undefined && c.build !== undefined) {
      ctx.addIssue({ code: "custom", path: ["build"], message: "a container has either `image` or `build`, not both" });
    } else if (c.image === undefined && c.build === undefined) {
      ctx.addIssue({ code: "custom", message: "a container needs `image` (a registry image) or `build` (a local build context)" });
    }
  });

export const appSchema = z.strictObject({
  // /etc/archy/<id>/ holds an app's derived configs and /etc/archy/build/ the build contexts:
  // an app "build" would share that directory (and its config changes would restart nothing).
  id: appId.refine((id) => id !== "build", 'app id "build" is reserved (/etc/archy/build/ holds build contexts)'),
  name: displayText.min(1).max(80),
  // Also a label value and the tag of locally built images (at most 128 characters).
  version: z.string().max(128, "version must be at most 128 characters (it is an image tag)").regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "version is a plain version string like 1.2.3"),
  kind: z.enum(["service", "ui"]),
  description: displayText.min(1).max(500),
  provides: z
    .strictObject({
      role: appId.describe("e.g. bitcoin: apps providing one role conflict in a selection"),
      default: z.boolean().default(false).describe("the provider role dependencies resolve to when compiling the whole catalog"),
    })
    .optional(),
  system: z.boolean().default(false).describe("system apps may bind absolute host paths (must also be allow-listed)"),
  bitcoin_rpc: z
    .strictObject({
      whitelist: z.array(z.string().regex(/^[a-z]+$/)).optional(),
      deprecatedrpc: z
        .array(z.enum(["create_bdb"]))
        .optional()
        .describe("deprecated RPC behaviour bitcoind must keep for this app (bitcoin.conf deprecatedrpc=…), e.g. create_bdb for Jam's legacy wallet"),
      whitebind: z
        .boolean()
        .optional()
        .describe("this app connects to bitcoind's P2P port as a whitelisted peer (bitcoin.conf whitebind on port 8335; value p2p_whitebind)"),
    })
    .optional()
    .describe("this app consumes Bitcoin RPC: it gets its own rpcauth user"),
  dependencies: z.record(appId, appDependencySchema).optional().describe("app ids or roles this app needs"),
  settings: z.record(settingKey, settingSchema).optional().describe("typed settings an owner may choose in the selection's app_settings (docs/settings.md)"),
  containers: z
    .record(containerName, containerSchema)
    .refine((r) => Object.keys(r).length > 0, "an app needs at least one container"),
}).superRefine((a, ctx) => {
  // Locally built images are tagged localhost/archy/<name>:<version>; a tag has no '+'.
  if (a.version.includes("+") && Object.values(a.containers).some((c) => c.build)) {
    ctx.addIssue({ code: "custom", path: ["version"], message: "version is the tag of this app's locally built image, and an image tag cannot contain '+'" });
  }
});

// Host paths of a node's own data (selection only): absolute, normalised.
const absHostPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._@+\/-]*$/, "must be an absolute path of letters, digits and ._@+-/")
  .refine((p) => p === "/" || (!p.endsWith("/") && !p.split("/").slice(1).some((x) => x === "" || x === "." || x === "..")), "must be normalised: no '..', '.', '//' or trailing '/'");
const storageTarget = z
  .string()
  .refine((v) => v.startsWith("/") || v.startsWith("volume:"), { message: "must be an absolute host directory or volume:<podman named volume>", abort: true })
  .refine((v) => !v.startsWith("/") || absHostPath.safeParse(v).success, { message: "a host directory must be absolute and normalised (no '..', '.', '//' or trailing '/'), of letters, digits and ._@+-/" })
  .refine((v) => v.startsWith("/") || (/^volume:[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v) && !v.endsWith(".volume")), { message: "volume:<name> names an existing podman named volume ([A-Za-z0-9][A-Za-z0-9_.-]*, not a .volume unit)" });

// The container fields an owner may override locally (selection `overrides`).
export const overrideSchema = z.strictObject({
  memory: z.string().regex(/^[0-9]+[kmg]$/, "memory must look like 512m or 2g").optional(),
  pids_limit: z.number().int().min(1).max(1_000_000).optional(),
  environment: z.record(envName, lineSafe).optional().describe("added to (or replacing) the manifest's environment"),
  stop_timeout: z.number().int().min(1).max(3600).optional(),
  start_timeout: z.number().int().min(60).max(86_400).optional(),
});

export const selectionSchema = z.strictObject({
  apps: z.array(appId).min(1),
  settings: z
    .strictObject({
      bitcoin_network: z.enum(["mainnet", "testnet", "testnet4", "signet", "regtest"]).default("mainnet"),
      resource_limits: z
        .boolean()
        .default(true)
        .describe("emit PidsLimit/memory limits; false on kernels without the pids/memory cgroup controllers (e.g. Raspberry Pi kernels without cgroup_enable=memory)"),
      tor: z
        .record(appId, z.boolean())
        .optional()
        .describe("app id → false keeps that app (bitcoind's provider, lnd) off Tor; with tor selected they use it by default (docs/tor.md)"),
      lnd_backup: z
        .strictObject({
          dir: z.string().regex(/^\/[A-Za-z0-9._@+\/-]*$/, "backup dir must be an absolute path of letters, digits and ._@+-/").refine((p) => !p.split("/").includes(".."), "backup dir must not contain '..'"),
          keep: z.number().int().min(1).max(1000).default(30),
        })
        .optional()
        .describe("where lnd's channel.backup is copied when it changes (default /var/lib/archy-backup/lnd; advice: a different disk)"),
      data_root: absHostPath.optional().describe("replaces /var/lib/archy/apps as the root of every app's unmapped data (docs/adopt.md)"),
      min_free_disk: z
        .string()
        .regex(/^[0-9]+(\.[0-9]+)?[KMGTkmgt]?$/, "min_free_disk must be a size like 500M, 5G or 1.5T (binary units; a bare number is bytes)")
        .optional()
        .describe("free space apply needs on Podman's graph root and every app data file system before it pulls or builds anything (default 2G); below it apply refuses and switches nothing"),
    })
    .default({ bitcoin_network: "mainnet", resource_limits: true }),
  app_settings: z
    .record(appId, z.record(settingKey, settingValue))
    .optional()
    .describe("app id or role → setting → value; each app declares its settings (`archy-quadlet settings`, docs/settings.md)"),
  overrides: z
    .record(appId, z.record(containerName, overrideSchema))
    .optional()
    .describe("app id → container → local overrides of a few container fields; they survive catalog updates (docs/settings.md)"),
  // Node-local: an existing node's data, used in place (docs/adopt.md). Checked in src/adopt/storage.ts.
  storage: z
    .record(appId, z.record(z.string(), storageTarget))
    .optional()
    .describe("app id → manifest volume source → an existing host directory or volume:<podman named volume>, used in place"),
  rpc_users: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "rpc user names are 1-64 of letters, digits and ._-"),
        rpcauth: z.string().regex(/^[A-Za-z0-9_.-]{1,64}:[0-9a-f]{16,64}\$[0-9a-f]{64}$/, "rpcauth must look like user:<hex salt>$<64 hex hash> (Bitcoin Core's rpcauth.py output, without `rpcauth=`)").optional(),
        secret: z.literal(true).optional().describe("the password lives in the secrets store as rpc-user-<name> (created with a CSPRNG value if missing)"),
      }),
    )
    .optional()
    .describe("bitcoind RPC users for clients outside the catalog (wallets, the dashboard daemon): an rpcauth line or a store-backed secret"),
  takeover: z
    .strictObject({
      disable_units: z.array(z.string().regex(/^[A-Za-z0-9@._:-]+\.(service|timer|path|socket)$/, "a systemd unit name like reconcile-containers.service")),
    })
    .optional()
    .describe("the old system's units the first apply stops and disables (default first-boot-containers.service, reconcile-containers.service)"),
});

export type App = z.output<typeof appSchema>;
export type Container = z.output<typeof containerSchema>;
export type Dependency = z.output<typeof dependencySchema>;
export type AppDependency = z.output<typeof appDependencySchema>;
export type ConfigEntry = z.output<typeof configSchema>;
export type Selection = z.output<typeof selectionSchema>;
export type ConfigKind = z.output<typeof configSchema>["kind"];
export type SettingDecl = z.output<typeof settingSchema>;
export type SettingValue = z.output<typeof settingValue>;
export type Override = z.output<typeof overrideSchema>;
