// Builds the stand-in images inside a booted guest (no registry is reachable):
// two bases imported from the guest's own files — busybox + node + bash, and
// busybox + Debian's nginx laid out like the official nginx image — and one
// image per upstream reference the manifests name, from its contract.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Machine } from "../harness/machine.js";
import { CONTRACTS, repoOf, type Contract } from "./contracts.js";

/** One image to build: the local reference the overlay wrote, for which upstream image, with which options. */
export interface StandinSpec {
  ref: string;
  upstream: string;
  options?: StandinOptions;
  /** The app whose manifest names it (the first one). */
  app?: string;
}

export interface StandinOptions {
  /** bitcoind stand-in: seconds of "Loading block index" (RPC -28) before it answers. */
  readyAfterSec?: number;
  /** Another release of the same stand-in: a tag suffix and a distinct image (it is baked into contract.json). */
  variant?: string;
  /** A layer of this many MB of random bytes of the image's own, so pulling it transfers something. */
  padMB?: number;
}

const BASE_NODE = "localhost/standin/base-node:1";
const BASE_NGINX = "localhost/standin/base-nginx:1";
const RUNTIME = join(import.meta.dirname, "runtime.mjs");
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Runs in the guest: a root tree from busybox plus the given binaries and the
// shared libraries ldd names for them, imported as an image.
const BASE_SCRIPT = String.raw`#!/bin/sh
set -eu
ref=$1; kind=$2
podman image exists "$ref" && exit 0
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/run" "$d/var/tmp" "$d/usr/bin" "$d/usr/sbin" "$d/usr/local/bin" "$d/standin" "$d/home" "$d/data"
chmod 1777 "$d/tmp" "$d/var/tmp"
cp /usr/bin/busybox "$d/bin/busybox"
for a in $(/usr/bin/busybox --list); do [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"; done
copy() { mkdir -p "$d$(dirname "$2")"; cp -L "$1" "$d$2"; }
libs() { ldd "$1" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}' | while read -r l; do copy "$l" "$l"; done; }
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
if [ "$kind" = node ]; then
  copy /usr/bin/node /standin/node; libs /usr/bin/node
  # Debian's node loads some builtins (acorn, undici, cjs-module-lexer, …) from here.
  mkdir -p "$d/usr/share"; cp -rL /usr/share/nodejs "$d/usr/share/nodejs"
  # Tools some upstream images ship; each stand-in links only those its upstream has (contract.tools).
  for t in bash curl jq tor; do copy "/usr/bin/$t" "/opt/tools/$t"; libs "/usr/bin/$t"; done
  tar -C "$d" -cf - . | podman import -q --change "ENV PATH=${PATH}" - "$ref" >/dev/null
else
  copy /usr/sbin/nginx /usr/sbin/nginx; libs /usr/sbin/nginx
  copy /etc/nginx/mime.types /etc/nginx/mime.types
  mkdir -p "$d/etc/nginx/conf.d" "$d/var/cache/nginx" "$d/var/log/nginx" "$d/usr/share/nginx/html" "$d/docker-entrypoint.d"
  ln -s /dev/stdout "$d/var/log/nginx/access.log"
  ln -s /dev/stderr "$d/var/log/nginx/error.log"
  echo 'nginx:x:101:101:nginx:/nonexistent:/bin/false' >>"$d/etc/passwd"
  echo 'nginx:x:101:' >>"$d/etc/group"
  cat >"$d/etc/nginx/nginx.conf" <<'EOF'
user nginx;
worker_processes 1;
error_log /var/log/nginx/error.log notice;
pid /run/nginx.pid;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log;
    client_body_temp_path /var/cache/nginx/client_temp;
    proxy_temp_path /var/cache/nginx/proxy_temp;
    fastcgi_temp_path /var/cache/nginx/fastcgi_temp;
    uwsgi_temp_path /var/cache/nginx/uwsgi_temp;
    scgi_temp_path /var/cache/nginx/scgi_temp;
    sendfile on;
    include /etc/nginx/conf.d/*.conf;
}
EOF
  cat >"$d/etc/nginx/conf.d/default.conf" <<'EOF'
server { listen 80; server_name localhost; location / { root /usr/share/nginx/html; index index.html; } }
EOF
  echo '<h1>Welcome to nginx!</h1>' >"$d/usr/share/nginx/html/index.html"
  printf '#!/bin/sh\nset -e\nexec "$@"\n' >"$d/docker-entrypoint.sh"
  chmod 755 "$d/docker-entrypoint.sh"
  tar -C "$d" -cf - . | podman import -q --change "ENV PATH=${PATH}" \
    --change 'ENTRYPOINT ["/docker-entrypoint.sh"]' --change 'CMD ["nginx", "-g", "daemon off;"]' \
    --change 'STOPSIGNAL SIGQUIT' --change 'EXPOSE 80' - "$ref" >/dev/null
fi
`;

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The build context of one stand-in: Containerfile + rootfs/ tree. */
function writeContext(dir: string, c: Contract, spec: StandinSpec): void {
  const root = join(dir, "rootfs");
  const put = (path: string, content: string, mode: number) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    chmodSync(join(root, path), mode);
  };
  const contract = { ...c, ...(spec.options ?? {}), name: repoOf(spec.upstream) };
  put("standin/contract.json", JSON.stringify(contract, null, 2), 0o644);
  put("standin/runtime.mjs", readFileSync(RUNTIME, "utf8"), 0o644);
  for (const [path, [role, ...fixed]] of Object.entries(c.exes ?? {})) {
    put(path, `#!/bin/sh\nexec /standin/node /standin/runtime.mjs ${[role!, ...fixed].map(shQuote).join(" ")} "$@"\n`, 0o755);
  }
  for (const [path, body] of Object.entries(c.scripts ?? {})) put(path, body, 0o755);
  // gosu/su-exec: how upstream entrypoints drop privileges.
  for (const path of ["/usr/local/bin/gosu", "/sbin/su-exec"]) put(path, `#!/bin/sh\nexec /standin/node /standin/runtime.mjs gosu "$@"\n`, 0o755);
  // Both /bin and /usr/bin, as on the (merged-/usr) upstream images: scripts say #!/bin/bash.
  for (const t of c.tools ?? []) {
    for (const dir of ["bin", "usr/bin"]) {
      mkdirSync(join(root, dir), { recursive: true });
      symlinkSync(`/opt/tools/${t}`, join(root, dir, t));
    }
  }
  if (c.tls) {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650", "-subj", "/CN=standin",
      "-addext", "subjectAltName=DNS:lnd,DNS:localhost,DNS:host.archipelago,IP:127.0.0.1", "-keyout", join(root, "standin/tls.key"), "-out", join(root, "standin/tls.cert")], { stdio: "ignore" });
    chmodSync(join(root, "standin/tls.key"), 0o644);
  }
  for (const [path, body] of Object.entries(c.files ?? {})) put(path, body, 0o644);
  const users = c.users ?? [];
  put("etc/passwd", ["root:x:0:0:root:/root:/bin/sh", "nobody:x:65534:65534:nobody:/nonexistent:/bin/false", ...users.map(([n, u, g]) => `${n}:x:${u}:${g}:${n}:/home/${n}:/bin/sh`)].join("\n") + "\n", 0o644);
  const groups = new Map<number, string>([[0, "root"], [65534, "nogroup"]]);
  for (const [n, , g] of users) if (!groups.has(g)) groups.set(g, n);
  put("etc/group", [...groups].map(([g, n]) => `${n}:x:${g}:`).join("\n") + "\n", 0o644);

  const lines = [`FROM ${BASE_NODE}`, "COPY rootfs/ /"];
  const dirs = Object.entries(c.dirs ?? {});
  if (dirs.length) lines.push(`RUN ${dirs.map(([p, [mode, u, g]]) => `mkdir -p ${p} && chown ${u}:${g} ${p} && chmod ${mode.toString(8)} ${p}`).join(" && ")}`);
  if (spec.options?.padMB) lines.push(`RUN dd if=/dev/urandom of=/standin/pad bs=1M count=${spec.options.padMB} 2>/dev/null`);
  for (const [k, v] of Object.entries(c.env ?? {})) lines.push(`ENV ${k}=${JSON.stringify(v)}`);
  if (c.workdir) lines.push(`WORKDIR ${c.workdir}`);
  if (c.user) lines.push(`USER ${c.user}`);
  lines.push(`ENTRYPOINT ${JSON.stringify(c.entrypoint ?? [])}`);
  if (c.cmd) lines.push(`CMD ${JSON.stringify(c.cmd)}`);
  lines.push(`LABEL archy.standin.for=${JSON.stringify(spec.upstream)}`);
  writeFileSync(join(dir, "Containerfile"), lines.join("\n") + "\n");
}

/** Build every spec not already in the guest's image store. Returns ms spent. */
export async function buildStandins(m: Machine, specs: readonly StandinSpec[]): Promise<number> {
  const t0 = Date.now();
  const bases = new Set(specs.map((s) => contractFor(s.upstream).base));
  await m.writeFile("/usr/local/bin/archy-standin-base", BASE_SCRIPT, 0o755);
  if (bases.has("node")) await m.exec(`archy-standin-base ${BASE_NODE} node`, { timeoutMs: 300_000 });
  if (bases.has("nginx")) await m.exec(`archy-standin-base ${BASE_NGINX} nginx`, { timeoutMs: 300_000 });
  const host = mkdtempSync(join(tmpdir(), "archy-standins-"));
  try {
    for (const [i, spec] of specs.entries()) {
      if ((await m.exec(`podman image exists ${shQuote(spec.ref)}`, { allowFail: true })).code === 0) continue;
      const c = contractFor(spec.upstream);
      if (c.base === "nginx") {
        await m.exec(`podman tag ${BASE_NGINX} ${shQuote(spec.ref)}`);
        continue;
      }
      const dir = join(host, String(i));
      writeContext(dir, c, spec);
      await m.copyIn(dir, `/root/standin-ctx/${i}`);
      await m.exec(`podman build -q -t ${shQuote(spec.ref)} /root/standin-ctx/${i} >/dev/null && rm -rf /root/standin-ctx/${i}`, { timeoutMs: 300_000 });
    }
  } finally {
    rmSync(host, { recursive: true, force: true });
  }
  return Date.now() - t0;
}

export function contractFor(upstream: string): Contract {
  const c = CONTRACTS[repoOf(upstream)];
  if (!c) throw new Error(`no stand-in contract for ${upstream}: add one to test/e2e/standins/contracts.ts`);
  return c;
}

/** Manifest of repository:tag in the guest's registry (HEAD, the media types podman pushes). */
async function inRegistry(m: Machine, ref: string): Promise<boolean> {
  const at = ref.indexOf("/");
  const colon = ref.lastIndexOf(":");
  const [host, name, tag] = [ref.slice(0, at), ref.slice(at + 1, colon), ref.slice(colon + 1)];
  const accept = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"].map((t) => `-H ${shQuote(`Accept: ${t}`)}`).join(" ");
  return (await m.exec(`curl -sf -o /dev/null -I ${accept} ${shQuote(`http://${host}/v2/${name}/manifests/${tag}`)}`, { allowFail: true })).code === 0;
}

/**
 * Push the stand-ins named in `registry` that it does not have yet (built here first) and
 * remove the local copies this built, so an apply has to pull them. A copy the node already
 * had (pulled by an earlier apply) is left alone. Returns the references pushed.
 */
export async function publishStandins(m: Machine, specs: readonly StandinSpec[], registry: string): Promise<string[]> {
  const missing: StandinSpec[] = [];
  for (const s of specs) if (s.ref.startsWith(`${registry}/`) && !(await inRegistry(m, s.ref))) missing.push(s);
  const had = new Set<string>();
  for (const s of missing) if ((await m.exec(`podman image exists ${shQuote(s.ref)}`, { allowFail: true })).code === 0) had.add(s.ref);
  await buildStandins(m, missing);
  for (const s of missing) {
    // registries.conf.d marks the registry insecure (plain HTTP on the guest's loopback).
    await m.exec(`podman push -q ${shQuote(s.ref)}`, { timeoutMs: 300_000 });
    if (!(await inRegistry(m, s.ref))) throw new Error(`pushed ${s.ref} but the registry does not list it`);
    if (!had.has(s.ref)) await m.exec(`podman rmi ${shQuote(s.ref)} >/dev/null`);
  }
  return missing.map((s) => s.ref);
}
