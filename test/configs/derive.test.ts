// Derived configs and the secrets store: rpcauth vectors, a real store on disk,
// independent verification of bitcoin.conf, rotation, leaks, file modes under
// any umask, refusals, drift detection and repair, and the catalog's argv.
import { createHmac } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpcauthHash, rpcauthLine } from "../../src/configs/rpcauth.js";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { changedFiles, cleanup, cli, cliProcess, dirModes, readAll, tempDir, UNIT_DIR, type Run, type TreeEntry } from "../helpers/cli.js";
import { GOOD } from "../helpers/fixtures.js";
import { dryrun, execStartArgv, indexOfWords, REPO } from "../helpers/quadlet.js";

const STACK = join(GOOD, "bitcoin-stack");
const CONSUMERS = ["dashboard", "indexer", "lightning"];
/** The files of bitcoin-stack that carry an RPC password. */
const SECRET_FILES = ["etc/archy/dashboard/nginx.conf", "etc/archy/indexer/electrumx.env", "etc/archy/lightning/lnd.conf"];
const HEX64 = /^[0-9a-f]{64}\n?$/;

let tmp = "";
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => cleanup(tmp));

let n = 0;
const fresh = (name: string) => join(tmp, `${name}-${n++}`);

/** generate the bitcoin-stack fixture in-process. */
function gen(out: string, secrets: string, cmd = "generate", extra: string[] = []): Promise<Run> {
  const target = cmd === "diff" ? ["--against", out] : cmd === "validate" ? [] : ["--out", out];
  return cli([cmd, "--manifests", "manifests", "--select", "selection.yaml", "--secrets", secrets, ...target, ...extra], { cwd: STACK });
}

async function generated(out: string, secrets: string): Promise<Map<string, TreeEntry>> {
  const r = await gen(out, secrets);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return readAll(out);
}

const readSecrets = (dir: string) => new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8").trim()]));

/** Everything that would give a password away: the value itself and the Basic-auth form nginx.conf carries. */
function needles(secrets: Map<string, string>): string[] {
  return [...secrets].flatMap(([file, pass]) => [pass, Buffer.from(`${file.replace(/^rpc-/, "")}:${pass}`).toString("base64")]);
}

describe("rpcauth", () => {
  it.each([
    ["cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM=", "93648e835a54c573682c2eb19f882535", "7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144"],
    ["bitcoin", "6dd184e5e69271fdd69103464630014f", "eb3d7ce67c4d1ff3564270519b03b636c0291012692a5fa3dd1d2075daedd07b"],
    ["bitcoin", "57b2f77c919eece63cfa46c2f06e46ae", "266b63902f99f97eeaab882d4a87f8667ab84435c3799f2ce042ef5a994d620b"],
  ])("Bitcoin Core's vector: password %s, salt %s", (password, salt, hash) => {
    expect(rpcauthHash(salt, password)).toBe(hash);
  });

  it("writes rpcauth=user:salt$hash with a 32-hex salt, the same for the same password", () => {
    const a = rpcauthLine("rt", "bitcoin");
    expect(a).toMatch(/^rpcauth=rt:[0-9a-f]{32}\$[0-9a-f]{64}$/);
    expect(rpcauthLine("rt", "bitcoin")).toBe(a);
    expect(rpcauthLine("rt", "bitcoin2")).not.toBe(a);
    expect(rpcauthLine("other", "bitcoin")).not.toBe(a);
  });
});

describe("a real secrets store", () => {
  let store = "";
  let out = "";
  let tree: Map<string, TreeEntry>;
  beforeAll(async () => {
    store = join(fresh("node"), "secrets"); // its parent does not exist either
    out = fresh("tree");
    tree = await generated(out, store);
  });

  it("is created on first use: dir 0700, one 0600 file of 64 hex characters per consumer", () => {
    expect(statSync(store).mode & 0o777).toBe(0o700);
    expect(readdirSync(store).sort()).toEqual(CONSUMERS.map((c) => `rpc-${c}`));
    for (const f of readdirSync(store)) {
      expect(statSync(join(store, f)).mode & 0o777, f).toBe(0o600);
      expect(readFileSync(join(store, f), "utf8"), f).toMatch(HEX64);
    }
    expect(new Set(readSecrets(store).values()).size).toBe(CONSUMERS.length);
  });

  it("is never rewritten by a later run", async () => {
    const before = readdirSync(store).map((f) => ({ f, ino: statSync(join(store, f)).ino, text: readFileSync(join(store, f), "utf8") }));
    await generated(fresh("again"), store);
    const after = readdirSync(store).map((f) => ({ f, ino: statSync(join(store, f)).ino, text: readFileSync(join(store, f), "utf8") }));
    expect(after).toEqual(before);
  });

  it("bitcoin.conf holds one rpcauth line per consumer, each verifying against the stored password", () => {
    const conf = tree.get("etc/archy/btc/bitcoin.conf")!.content.toString("utf8");
    const lines = conf.split("\n").filter((l) => l.startsWith("rpcauth="));
    const secrets = readSecrets(store);
    expect(lines.map((l) => /^rpcauth=([^:]+):/.exec(l)![1]).sort()).toEqual(CONSUMERS);
    for (const l of lines) {
      const [, user, salt, hash] = /^rpcauth=([a-z0-9-]+):([0-9a-f]{32})\$([0-9a-f]{64})$/.exec(l)!;
      const password = secrets.get(`rpc-${user}`)!;
      expect(createHmac("sha256", salt!).update(password).digest("hex"), user).toBe(hash);
    }
  });

  it("each consumer's file carries its own stored password", () => {
    const s = readSecrets(store);
    const text = (p: string) => tree.get(p)!.content.toString("utf8");
    expect(text("etc/archy/indexer/electrumx.env")).toContain(`DAEMON_URL=http://indexer:${s.get("rpc-indexer")}@btc:8332/`);
    expect(text("etc/archy/lightning/lnd.conf")).toContain(`bitcoind.rpcpass=${s.get("rpc-lightning")}\n`);
    expect(text("etc/archy/dashboard/nginx.conf")).toContain(`Basic ${Buffer.from(`dashboard:${s.get("rpc-dashboard")}`).toString("base64")}"`);
  });

  it("same manifests and secrets give byte-identical output, modes included", async () => {
    const again = await generated(fresh("same"), store);
    expect(changedFiles(again, tree)).toEqual([]);
    expect([...again].map(([p, f]) => [p, f.mode])).toEqual([...tree].map(([p, f]) => [p, f.mode]));
  });

  it("rotating one consumer's secret changes exactly bitcoin.conf, its file and the two units that mount them", async () => {
    const rotated = fresh("rotated-store");
    mkdirSync(rotated, { mode: 0o700 });
    for (const [f, v] of readSecrets(store)) writeFileSync(join(rotated, f), `${v}\n`, { mode: 0o600 });
    writeFileSync(join(rotated, "rpc-indexer"), `${"ab".repeat(32)}\n`, { mode: 0o600 });
    const after = await generated(fresh("after-rotation"), rotated);
    // The config-hash label of btc.container covers bitcoin.conf: bitcoind restarts to load the new rpcauth.
    expect(changedFiles(tree, after)).toEqual([
      "etc/archy/btc/bitcoin.conf",
      "etc/archy/indexer/electrumx.env",
      `${UNIT_DIR}/btc.container`,
      `${UNIT_DIR}/indexer.container`,
    ]);
    const label = (t: Map<string, TreeEntry>) => /archy\.config-hash=\S+/.exec(t.get(`${UNIT_DIR}/indexer.container`)!.content.toString())![0];
    expect(label(after)).not.toBe(label(tree));
  });
});

describe("secrets never leak", () => {
  let store = "";
  let out = "";
  let secrets: Map<string, string>;
  const outputs: [string, string][] = [];
  const record = (what: string, r: Run) => outputs.push([`${what} stdout`, r.stdout], [`${what} stderr`, r.stderr]);

  beforeAll(async () => {
    store = join(fresh("leak"), "secrets");
    out = fresh("leak-tree");
    record("generate", await gen(out, store));
    secrets = readSecrets(store);
    record("validate", await gen(out, store, "validate"));
    record("check", await gen(out, store, "check"));
    record("check --json", await gen(out, store, "check", ["--json"]));
    // Hand-edit the lines that hold the credentials so the diff has to show them.
    const edit = (p: string, f: (s: string) => string) => writeFileSync(join(out, p), f(readFileSync(join(out, p), "utf8")));
    edit("etc/archy/indexer/electrumx.env", (s) => s.replace("DAEMON_URL=http://", "DAEMON_URL=https://"));
    edit("etc/archy/lightning/lnd.conf", (s) => s.replace("bitcoind.rpcpass=", "bitcoind.rpcpass = "));
    edit("etc/archy/dashboard/nginx.conf", (s) => s.replace("proxy_set_header Authorization", "proxy_set_header  Authorization"));
    record("diff (hand-edited)", await gen(out, store, "diff", ["--no-color"]));
    record("diff --json", await gen(out, store, "diff", ["--json"]));
    record("check (hand-edited)", await gen(out, store, "check"));
  });

  it("the store has the secrets this test looks for", () => {
    expect([...secrets.keys()].sort()).toEqual(CONSUMERS.map((c) => `rpc-${c}`));
  });

  it("not in any unit file, nor in any file whose mode is not 0600/0640", () => {
    const tree = readAll(out);
    for (const [path, f] of tree) {
      const text = f.content.toString("utf8");
      const leaks = needles(secrets).filter((s) => text.includes(s));
      if (path.startsWith(UNIT_DIR) || path.startsWith("etc/systemd/") || ![0o600, 0o640].includes(f.mode)) expect(leaks, path).toEqual([]);
    }
    // …and the files that do carry one are exactly the expected ones.
    const carriers = [...tree].filter(([, f]) => needles(secrets).some((s) => f.content.toString("utf8").includes(s))).map(([p]) => p);
    expect(carriers.sort()).toEqual(SECRET_FILES);
  });

  it("not in the output of generate, validate, check or diff; the diff shows *** instead", () => {
    for (const [what, text] of outputs) expect(needles(secrets).filter((s) => text.includes(s)), what).toEqual([]);
    const diff = outputs.find(([w]) => w === "diff (hand-edited) stdout")![1];
    for (const p of SECRET_FILES) expect(diff).toContain(`b/${p}`);
    expect(diff).toContain("DAEMON_URL=https://indexer:***@btc:8332/");
    expect(diff).toContain("bitcoind.rpcpass=***");
    expect(diff).toContain('Authorization "Basic ***"');
  });

  it("not in a diff against a tree whose secrets were rotated away (old values are unknown to the store)", async () => {
    const old = readSecrets(store);
    const rotated = fresh("rotated");
    mkdirSync(rotated, { mode: 0o700 });
    for (const f of old.keys()) writeFileSync(join(rotated, f), `${f.length.toString(16).padStart(2, "0").repeat(32)}\n`, { mode: 0o600 });
    const oldTree = fresh("old-tree");
    await generated(oldTree, store);
    const r = await gen(oldTree, rotated, "diff", ["--no-color"]);
    expect(r.code).toBe(1);
    for (const s of [...needles(old), ...needles(readSecrets(rotated))]) expect(r.stdout).not.toContain(s);
    // The credentials changed and nothing else: said so, without a patch.
    for (const p of SECRET_FILES) expect(r.stdout).toMatch(new RegExp(`^\\+\\+\\+ b/${p}\\t.*\\nsecret values differ \\(redacted\\)$`, "m"));
  });
});

describe("file modes do not depend on the umask", () => {
  it.each(["000", "077"])("umask %s: units and configs 0644, secret-bearing files 0600, dirs 0755, store 0700/0600", (umask) => {
    const base = fresh(`umask-${umask}`);
    mkdirSync(base);
    const r = cliProcess(["generate", "--manifests", "manifests", "--select", "selection.yaml", "--secrets", join(base, "secrets"), "--out", join(base, "out")], {
      cwd: STACK,
      umask,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const tree = readAll(join(base, "out"));
    expect(tree.size).toBeGreaterThan(SECRET_FILES.length);
    for (const [path, f] of tree) expect(f.mode.toString(8), path).toBe(SECRET_FILES.includes(path) ? "600" : "644");
    for (const [dir, mode] of dirModes(join(base, "out"))) expect(mode.toString(8), dir).toBe("755");
    expect((statSync(join(base, "secrets")).mode & 0o777).toString(8)).toBe("700");
    for (const f of readdirSync(join(base, "secrets"))) expect((statSync(join(base, "secrets", f)).mode & 0o777).toString(8), f).toBe("600");
  });
});

describe("refusals", () => {
  const noTrace = (r: Run) => expect(r.stderr).not.toMatch(/^\s+at |internal error/m);

  it("a secrets dir readable by others is refused, not chmod'ed, and nothing is written", async () => {
    const store = fresh("open-store");
    mkdirSync(store);
    chmodSync(store, 0o755);
    const out = fresh("open-out");
    const r = await gen(out, store);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${store}: error: secrets directory is accessible to group/others (mode 0755); refusing to use it — run: chmod 700 ${store}`);
    noTrace(r);
    expect(statSync(store).mode & 0o777).toBe(0o755);
    expect(readdirSync(store)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    ["corrupt", "not-a-secret\n"],
    ["empty", ""],
    ["too short", "abcdef\n"],
  ])("a %s secret file is named in the error and left as it is", async (_, content) => {
    const store = fresh("bad-secret");
    mkdirSync(store, { mode: 0o700 });
    const file = join(store, "rpc-lightning");
    writeFileSync(file, content, { mode: 0o600 });
    const out = fresh("bad-secret-out");
    const r = await gen(out, store);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: error: secret file is empty or corrupt`);
    noTrace(r);
    expect(readFileSync(file, "utf8")).toBe(content);
    expect(readdirSync(store)).toEqual(["rpc-lightning"]); // no other secret persisted either
    expect(existsSync(out)).toBe(false);
  });

  it("a secret file readable by others is refused", async () => {
    const store = fresh("open-secret");
    mkdirSync(store, { mode: 0o700 });
    writeFileSync(join(store, "rpc-indexer"), `${"cd".repeat(32)}\n`);
    chmodSync(join(store, "rpc-indexer"), 0o644);
    const r = await gen(fresh("open-secret-out"), store);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(store, "rpc-indexer")}: error: secret file is readable by group/others (mode 0644)`);
  });

  it("an output directory the user cannot write: a clear error, non-zero exit, no stack trace", () => {
    const base = fresh("readonly");
    mkdirSync(join(base, "out"), { recursive: true });
    chmodSync(base, 0o755);
    chmodSync(join(base, "out"), 0o555);
    // root ignores permissions: run as nobody then.
    const asRoot = process.getuid?.() === 0;
    const r = cliProcess(["generate", "--manifests", "manifests", "--select", "selection.yaml", "--out", join(base, "out")], {
      cwd: STACK,
      ...(asRoot ? { uid: 65534, gid: 65534, env: { HOME: base } } : {}),
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^error: cannot write ${join(base, "out")}: EACCES`));
    noTrace(r);
    expect(readdirSync(join(base, "out"))).toEqual([]);
  });
});

describe("drift", () => {
  it("check names a hand-edited and a deleted derived file (exit 1); generate repairs both", async () => {
    const store = join(fresh("drift"), "secrets");
    const out = fresh("drift-tree");
    const clean = await generated(out, store);
    expect((await gen(out, store, "check")).code).toBe(0);

    writeFileSync(join(out, "etc/archy/btc/bitcoin.conf"), "rpcauth=intruder:00$00\n", { flag: "a" });
    rmSync(join(out, "etc/archy/indexer/electrumx.env"));
    const r = await gen(out, store, "check");
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual(["drift: modified  etc/archy/btc/bitcoin.conf", "drift: missing   etc/archy/indexer/electrumx.env"]);

    const fix = await gen(out, store);
    expect(fix.code).toBe(0);
    expect(fix.stdout).toContain("2 changed");
    expect((await gen(out, store, "check")).code).toBe(0);
    const repaired = readAll(out);
    expect(changedFiles(repaired, clean)).toEqual([]);
    expect(repaired.get("etc/archy/indexer/electrumx.env")!.mode).toBe(0o600);
  });

  it("check reports a secret-bearing file whose mode was widened, and generate narrows it again", async () => {
    const store = join(fresh("mode"), "secrets");
    const out = fresh("mode-tree");
    await generated(out, store);
    chmodSync(join(out, "etc/archy/lightning/lnd.conf"), 0o644);
    const r = await gen(out, store, "check");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("drift: mode      etc/archy/lightning/lnd.conf (644 → 600)");
    expect((await gen(out, store)).code).toBe(0);
    expect(statSync(join(out, "etc/archy/lightning/lnd.conf")).mode & 0o777).toBe(0o600);
  });
});

describe("the catalog's env-file and nginx.conf consumers, through the real quadlet", () => {
  it("ElectrumX gets --env-file, the UI its nginx.conf read-only", async () => {
    const out = fresh("catalog");
    const r = await cli(["generate", "--out", out], { cwd: REPO });
    expect(r.code, r.stderr).toBe(0);
    const dr = dryrun(join(out, UNIT_DIR));
    expect(dr.code, dr.stderr).toBe(0);
    const g = compile({ manifests: join(REPO, "manifests"), secrets: new ReviewSecrets() }).graph!;
    const uses = (kind: string) => g.containers.filter((c) => c.spec.configs?.some((x) => x.kind === kind));
    const argv = (name: string) => execStartArgv(dr.services.get(`${name}.service`)!);

    const env = uses("electrumx.env");
    expect(env.map((c) => c.app.id)).toContain("electrumx");
    for (const c of env) expect(indexOfWords(argv(c.name), ["--env-file", `/etc/archy/${c.app.id}/electrumx.env`]), c.name).toBeGreaterThan(0);

    const nginx = uses("nginx.conf");
    expect(nginx.some((c) => c.app.kind === "ui")).toBe(true);
    for (const c of nginx) {
      const mount = c.spec.configs!.find((x) => x.kind === "nginx.conf")!.mount!;
      expect(indexOfWords(argv(c.name), ["-v", `/etc/archy/${c.app.id}/nginx.conf:${mount}:ro`]), c.name).toBeGreaterThan(0);
    }
  });
});
