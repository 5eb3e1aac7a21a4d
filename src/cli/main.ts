// The CLI entry: parse arguments, load the command, map every outcome to an
// exit code (EXIT_CODES, the one map; README "Exit codes" lists it). run.ts hands
// the number to Node.
import { Argument, Command, CommanderError, Option } from "commander";
import { Failure, type Outcome } from "../outcome.js";
import { err } from "./io.js";

/** Every code the program returns. knip-style: 0 clean, 1 findings, 2 invalid input; then ours. */
export const EXIT_CODES: Readonly<Record<Outcome | "internal", number>> = {
  ok: 0,
  findings: 1,
  "rolled-back": 1,
  invalid: 2,
  failed: 3,
  manual: 3,
  locked: 4,
  // A bug (an exception nobody expected): BSD sysexits' EX_SOFTWARE.
  internal: 70,
};

const examples = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

function compileOptions(c: Command): Command {
  return c
    .option("--manifests <dir>", "catalog of app manifests", "./manifests")
    .option("--select <file>", "selection file: which apps a node installs, and node settings")
    .option("--podman-version <x.y>", "target Podman version (keys newer than it are errors)", "5.4")
    .option("--secrets <dir>", "secrets store (default: fixed review secrets, never used on a node)");
}

export function buildProgram(): Command {
  const program = new Command("archy-quadlet")
    .description("Compile Archipelago app manifests into Podman Quadlet units so systemd owns every container")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  compileOptions(program.command("generate").description("write the generated tree (units + derived configs)"))
    .option("--out <dir>", "output root (mirrors the target filesystem)", "./out")
    .addHelpText("after", examples(["archy-quadlet generate", "archy-quadlet generate --select examples/node.yaml --out /tmp/tree"]))
    .action(async (o) => (await import("./compile-cmds.js")).generate(o));

  compileOptions(program.command("validate").description("check manifests (and a selection) without writing anything"))
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet validate", "archy-quadlet validate --select examples/node.yaml --json"]))
    .action(async (o) => (await import("./compile-cmds.js")).validate(o));

  compileOptions(program.command("check").description("exit 1 if the tree on disk differs from what the manifests generate"))
    .option("--out <dir>", "tree to check", "./out")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet check", "archy-quadlet check --out / --select /etc/archy/selection.yaml --secrets /var/lib/archy/secrets"]))
    .action(async (o) => (await import("./compile-cmds.js")).check(o));

  compileOptions(program.command("diff").description("unified diff between the tree on disk and what would be generated"))
    .option("--against <dir>", "tree to compare with", "./out")
    .option("--json", "machine-readable list of changed files")
    .addOption(new Option("--color", "force colour").conflicts("noColor"))
    .option("--no-color", "never colour")
    .addHelpText("after", examples(["archy-quadlet diff", "archy-quadlet diff --against / --select node.yaml --secrets /var/lib/archy/secrets"]))
    .action(async (o) => (await import("./compile-cmds.js")).diff(o));

  const nodeOptions = (c: Command) =>
    c
      .option("--root <dir>", "target filesystem root", "/")
      .option("--lock-timeout <seconds>", "how long to wait for another apply/rollback/reconcile", "60")
      .option("--quadlet <path>", "quadlet binary for the preflight dry run (default /usr/libexec/podman/quadlet, or $QUADLET_BIN)")
      .option("--json", "machine-readable output on stdout (progress goes to stderr)");

  nodeOptions(compileOptions(program.command("apply").description("install a new generation atomically and restart exactly what changed")))
    .option("--dry-run", "print the plan only")
    .option("--fetch-only", "pull and build every image the new generation needs (disk guard first), switch nothing, call no systemctl: pre-stage a release")
    .option("--keep <n>", "generations to keep", "3")
    .option("--replace-foreign <name...>", "replace these existing containers archy-quadlet did not create even though their data would not be mounted (docs/adopt.md)")
    .addHelpText("after", examples(["archy-quadlet apply --manifests /usr/share/archy/manifests --select /etc/archy-quadlet/selection.yaml", "archy-quadlet apply --dry-run --json", "archy-quadlet apply --fetch-only --select /etc/archy-quadlet/selection.yaml"]))
    .action(async (o) => (await import("./apply-cmds.js")).applyCmd(o));

  nodeOptions(program.command("rollback").description("switch back to an earlier generation and restart what differs"))
    .option("--to <id>", "generation to switch to (default: the newest earlier one not marked failed; 0: no generation, every unit of ours stopped)")
    .addHelpText("after", examples(["archy-quadlet rollback", "archy-quadlet rollback --to 12"]))
    .action(async (o) => (await import("./apply-cmds.js")).rollbackCmd(o));

  nodeOptions(program.command("generations").description("list generations: id, time, manifest hash, state"))
    .addHelpText("after", examples(["archy-quadlet generations", "archy-quadlet generations --json"]))
    .action(async (o) => (await import("./apply-cmds.js")).generationsCmd(o));

  nodeOptions(program.command("reconcile").description("re-apply the recorded inputs if the active generation drifted (run by archy-quadlet-reconcile.timer)"))
    .addHelpText("after", examples(["archy-quadlet reconcile"]))
    .action(async (o) => (await import("./apply-cmds.js")).reconcileCmd(o));

  const ota = program.command("ota").description("OTA release verification hooks");
  nodeOptions(ota.command("prepare").description("arm verification before restarting into a new release (called by the OTA installer)"))
    .requiredOption("--release <id>", "release id being installed")
    .addHelpText("after", examples(["archy-quadlet ota prepare --release 2026.11.2"]))
    .action(async (o) => (await import("./hook-cmds.js")).otaPrepareCmd(o));
  nodeOptions(ota.command("verify").description("probe a pending release; mark it good or roll back once (archy-quadlet-ota-verify.service)"))
    .option("--config <file>", "OTA config (default /etc/archy-quadlet/ota.yaml under --root)")
    .option("--window <seconds>", "override the probe window")
    .addHelpText("after", examples(["archy-quadlet ota verify", "archy-quadlet ota verify --window 30"]))
    .action(async (o) => (await import("./hook-cmds.js")).otaVerifyCmd(o));

  const podman = program.command("podman").description("Podman state hooks");
  nodeOptions(podman.command("heal").description("classify a broken Podman state and apply only the matching remedy (archy-quadlet-podman-heal.service)"))
    .option("--podman-version <x.y>", "installed Podman version (enables the 5.8+ BoltDB migration)")
    .addHelpText("after", examples(["archy-quadlet podman heal", "archy-quadlet podman heal --json"]))
    .action(async (o) => (await import("./hook-cmds.js")).podmanHealCmd(o));

  // Adopting an existing node (issue 13; docs/adopt.md).
  program
    .command("adopt")
    .description("take over an existing node: match its containers, propose storage:/rpc_users:/network for the selection (nothing written without --write)")
    .requiredOption("--select <file>", "the selection file to update")
    .option("--manifests <dir>", "catalog of app manifests", "./manifests")
    .option("--root <dir>", "target filesystem root (mount sources and legacy configs are read under it)", "/")
    .option("--secrets <dir>", "secrets store adopted passwords are moved into", "/var/lib/archy/secrets")
    .option("--bitcoin-conf <file>", "the legacy bitcoin.conf (default: bitcoin.conf in the adopted bitcoin data dir)")
    .option("--lnd-conf <file>", "the legacy lnd.conf (default: lnd.conf in the adopted lnd data dir)")
    .option("--write", "update the selection file (atomically, comments kept) and move adopted passwords into the store")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet adopt --select /etc/archy-quadlet/selection.yaml", "archy-quadlet adopt --select /etc/archy-quadlet/selection.yaml --write && archy-quadlet apply --select /etc/archy-quadlet/selection.yaml"]))
    .action(async (o) => (await import("./adopt.js")).adoptCmd(o));

  // Tor, wallets and channel backups (issue 16; docs/tor.md).
  compileOptions(program.command("connect").description("what a wallet needs to reach an app: LAN and onion addresses, Electrum strings, RPC, lndconnect"))
    .argument("<app>", "app id")
    .option("--root <dir>", "target filesystem root (onion hostnames, lnd's TLS cert and macaroon are read under it)", "/")
    .option("--host <name>", "the node's LAN host name or address (default: <hostname>.local)")
    .option("--rpc-user <app>", "bitcoind provider: show the RPC login of this consuming app")
    .option("--show-secrets", "include passwords and macaroons (stdout only)")
    .option("--qr", "render each URI as a QR code in the terminal")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet connect electrumx --qr", "archy-quadlet connect lnd --show-secrets --qr --select /etc/archy-quadlet/selection.yaml --secrets /var/lib/archy/secrets", "archy-quadlet connect bitcoin-knots --rpc-user sparrow-wallet --json"]))
    .action(async (app: string, o) => (await import("./connect.js")).connectCmd(app, o));

  const backup = program.command("backup").description("LND static channel backups");
  backup
    .command("lnd-scb")
    .description("copy lnd's channel.backup atomically to the backup dir, verified, keeping the last N (archy-quadlet-lnd-backup.service)")
    .requiredOption("--source <file>", "lnd's channel.backup")
    .requiredOption("--dest <dir>", "backup directory (advice: a different disk)")
    .option("--keep <n>", "timestamped copies to keep", "30")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet backup lnd-scb --source /var/lib/archy/apps/lnd/data/data/chain/bitcoin/mainnet/channel.backup --dest /mnt/backup/lnd"]))
    .action(async (o) => (await import("./backup.js")).lndScbCmd(o));
  backup
    .command("status")
    .description("age of the newest channel backup; exit 1 if lnd's file is newer than it")
    .requiredOption("--source <file>", "lnd's channel.backup")
    .requiredOption("--dest <dir>", "backup directory")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet backup status --source /var/lib/archy/apps/lnd/data/data/chain/bitcoin/mainnet/channel.backup --dest /var/lib/archy-backup/lnd"]))
    .action(async (o) => (await import("./backup.js")).scbStatusCmd(o));
  backup.addHelpText("after", examples(["archy-quadlet backup status --source … --dest /var/lib/archy-backup/lnd"]));

  program
    .command("schema")
    .description("print the manifest JSON Schema (with --selection: the selection file's, every app's settings included)")
    .option("--selection", "the selection file's JSON Schema, from the catalog's settings")
    .option("--manifests <dir>", "catalog of app manifests (for --selection)", "./manifests")
    .addHelpText("after", examples(["archy-quadlet schema > schema/manifest.schema.json", "archy-quadlet schema --selection > schema/selection.schema.json"]))
    .action(async (o) => (o.selection ? (await import("./settings.js")).selectionSchemaCmd(o) : (await import("./compile-cmds.js")).schema()));

  compileOptions(program.command("settings").description("every setting of the selected apps: type, accepted values, default, value and where it comes from"))
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet settings --select /etc/archy-quadlet/selection.yaml", "archy-quadlet settings --select examples/node.yaml --json"]))
    .action(async (o) => (await import("./settings.js")).settingsCmd(o));

  // Operator / reviewer commands (src/cli/explain.ts, graph.ts, status.ts, completion.ts).
  compileOptions(program.command("explain").description("show what one app becomes on a node: podman argv, dependencies, derived files, restart triggers"))
    .argument("<app>", "app id")
    .option("--quadlet <path>", "quadlet binary for the dry run (default /usr/libexec/podman/quadlet, or $QUADLET_BIN)")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet explain bitcoin-knots", "archy-quadlet explain mempool --select /etc/archy-quadlet/selection.yaml --json"]))
    .action(async (app: string, o) => (await import("./explain.js")).explainCmd(app, o));

  compileOptions(program.command("graph").description("print the dependency graph of the catalog (or a selection) as Mermaid or Graphviz dot"))
    .addOption(new Option("--format <format>", "output format").choices(["mermaid", "dot"]).default("mermaid"))
    .addHelpText("after", examples(["archy-quadlet graph > docs/graph.mmd", "archy-quadlet graph --format dot --select node.yaml | dot -Tsvg > graph.svg"]))
    .action(async (o) => (await import("./graph.js")).graphCmd(o));

  program
    .command("status")
    .description("per app and container on this node: unit, service, container and health state; exit 1 if a container is down")
    .option("--root <dir>", "target filesystem root", "/")
    .option("--json", "machine-readable result")
    .addHelpText("after", examples(["archy-quadlet status", "archy-quadlet status --json | jq '.down'"]))
    .action(async (o) => (await import("./status.js")).statusCmd(o));

  program
    .command("completion")
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "shell to complete for").choices(["bash"]))
    .addHelpText("after", examples(["archy-quadlet completion bash | sudo tee /etc/bash_completion.d/archy-quadlet", "source <(archy-quadlet completion bash)"]))
    .action(async (shell: string) => (await import("./completion.js")).completionCmd(shell));

  // Examples for the command groups and the program itself (every --help shows some).
  ota.addHelpText("after", examples(["archy-quadlet ota prepare --release 2026.11.2", "archy-quadlet ota verify"]));
  podman.addHelpText("after", examples(["archy-quadlet podman heal"]));
  program.addHelpText("after", examples(["archy-quadlet validate", "archy-quadlet diff --against /", "archy-quadlet explain bitcoin-knots", "archy-quadlet status"]));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_CODES.ok;
  } catch (e) {
    if (e instanceof Failure) {
      if (e.message) err(e.message);
      return EXIT_CODES[e.kind];
    }
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT_CODES.ok;
      return EXIT_CODES.invalid;
    }
    err(`archy-quadlet: internal error: ${(e as Error).stack ?? String(e)}`);
    return EXIT_CODES.internal;
  }
}
