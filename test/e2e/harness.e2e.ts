// Proves the e2e harness: boot trixie under systemd-nspawn, run a Quadlet
// container under systemd, power off, and leave the host exactly as it was.
// Missing prerequisites make this FAIL, never skip: a skipped e2e suite in CI
// would silently prove nothing.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertHostClean, boot, BUSYBOX_IMAGE, ensureRootfs, type Machine } from "./harness/machine.js";

const ARTIFACTS = join(import.meta.dirname, "artifacts");

function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// A PID 1 that exits on SIGTERM; a plain `sleep` loop would make every stop
// wait for the full kill timeout.
const LOOP = `/bin/sh -c "trap \\"exit 0\\" TERM; while :; do sleep 1 & wait; done"`;

const SMOKE_CONTAINER = `[Unit]
Description=archy e2e smoke container

[Container]
Image=${BUSYBOX_IMAGE}
Exec=${LOOP}

[Install]
WantedBy=multi-user.target
`;

describe("e2e harness (systemd-nspawn trixie machine)", () => {
  let m: Machine | undefined;
  const t0 = Date.now();

  beforeAll(async () => {
    // Root is required for debootstrap, nspawn and cgroups. In CI this is a
    // hard failure; locally the message says what is missing.
    expect(process.getuid?.(), "e2e tests must run as root").toBe(0);
    const rootfs = await ensureRootfs(); // also installs debootstrap/nspawn if missing
    for (const cmd of ["debootstrap", "systemd-nspawn", "nsenter"]) {
      expect(hasCommand(cmd), `${cmd} is required on the host (CI=${process.env.CI ?? ""})`).toBe(true);
    }
    const tb = Date.now();
    m = await boot({ rootfs });
    console.log(`[e2e] ${m.name} booted: ${m.bootMs} ms systemd, ${Date.now() - tb} ms boot() total`);
  });

  afterAll(async () => {
    // Safety net if a test failed before the poweroff test ran.
    if (m) {
      await m.collectArtifacts(join(ARTIFACTS, m.name)).catch(() => {});
      await m.poweroff();
    }
    console.log(`[e2e] harness suite took ${Date.now() - t0} ms`);
  });

  const machine = (): Machine => {
    if (!m) throw new Error("machine did not boot");
    return m;
  };

  it("runs systemd 257 and podman 5.4 and booted without failed units", async () => {
    const sd = await machine().exec("systemctl --version");
    expect(sd.stdout).toMatch(/^systemd 257\b/);
    const pm = await machine().exec("podman --version");
    expect(pm.stdout).toMatch(/podman version 5\.4\./);
    expect(machine().failedUnits).toEqual([]);
  });

  it("exec reports exit codes, stdin and stderr; writeFile/copyIn write into the guest", async () => {
    const r = await machine().exec("cat; echo oops >&2; exit 3", { input: "hello", allowFail: true });
    expect(r).toEqual({ code: 3, stdout: "hello", stderr: "oops\n" });
    await expect(machine().exec("false")).rejects.toThrow(/exit code 1/);
    await machine().writeFile("/etc/archy/test.txt", "x=1\n", 0o600);
    const st = await machine().exec("stat -c %a /etc/archy/test.txt && cat /etc/archy/test.txt");
    expect(st.stdout).toBe("600\nx=1\n");
    await machine().copyIn(import.meta.dirname + "/harness", "/opt/harness");
    const ls = await machine().exec("ls /opt/harness");
    expect(ls.stdout).toContain("machine.ts");
  });

  it("builds the busybox image and runs a Quadlet unit under systemd", async () => {
    expect(await machine().buildBusyboxImage()).toBe(BUSYBOX_IMAGE);
    // The image's default command must stop promptly on SIGTERM too.
    await machine().exec(`podman run -d --name default-cmd ${BUSYBOX_IMAGE}`);
    const t1 = Date.now();
    await machine().exec("podman stop -t 10 default-cmd && podman rm default-cmd");
    expect(Date.now() - t1).toBeLessThan(5_000);
    await machine().writeFile("/etc/containers/systemd/smoke.container", SMOKE_CONTAINER);
    await machine().exec("systemctl daemon-reload");
    await machine().exec("systemctl start smoke.service");
    const active = await machine().exec("systemctl is-active smoke.service", { allowFail: true });
    expect(active.stdout.trim()).toBe("active");
    const ps = await machine().exec("podman ps --format '{{.Names}} {{.Image}}'");
    expect(ps.stdout).toContain(`systemd-smoke ${BUSYBOX_IMAGE}`);

    // Stop must be quick: PID 1 in the container handles SIGTERM.
    const t = Date.now();
    await machine().exec("systemctl stop smoke.service");
    expect(Date.now() - t).toBeLessThan(8_000);
    const after = await machine().exec("systemctl is-active smoke.service", { allowFail: true });
    expect(after.stdout.trim()).toBe("inactive");
    expect((await machine().exec("podman ps -q")).stdout.trim()).toBe("");
  });

  it("collects artifacts, powers off and leaves the host clean", async () => {
    const mm = machine();
    const dir = join(ARTIFACTS, mm.name);
    await mm.collectArtifacts(dir);
    expect(execFileSync("cat", [join(dir, "journal.txt")]).toString()).toContain("smoke.service");
    await mm.poweroff();
    await assertHostClean(mm.name);
    m = undefined;
    execFileSync("rm", ["-rf", dir]); // keep artifacts only for failed runs
  });
});
