import { it } from "vitest";
import { boot } from "/work/main/test/e2e/harness/machine.js";
it("explore", async () => {
  const m = await boot({});
  try {
    await m.buildBusyboxImage();
    const run = async (c: string) => { const r = await m.exec(c, { allowFail: true, timeoutMs: 60000 }); console.log(`$ ${c}\n[${r.code}] ${r.stdout}${r.stderr}`); };
    await run("node --version; cat /etc/containers/containers.conf.d/*");
    await run("podman run --rm --pids-limit 4096 localhost/archy-e2e-busybox:latest echo pids-ok");
    await run("podman run --rm --memory=256m localhost/archy-e2e-busybox:latest echo mem-ok");
    await run("podman run --rm --cap-drop=ALL --security-opt=no-new-privileges localhost/archy-e2e-busybox:latest echo caps-ok");
    await run("podman info --format '{{.Host.DatabaseBackend}} {{.Store.GraphRoot}} {{.Store.RunRoot}}'");
    await run("ls -la /var/lib/containers/storage/ /run/libpod /run/containers/storage | head -30");
  } finally { await m.poweroff(); }
}, 300000);
