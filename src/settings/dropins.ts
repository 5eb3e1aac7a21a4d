// Hand-written drop-ins next to generated units (docs/settings.md): quadlet
// merges `<name>.container.d/*.conf` into the unit it generates, and systemd
// merges `<name>.service.d/*.conf` into the service, so either changes a
// generated container invisibly. archy-quadlet never writes or removes them; it
// lists them (`status`, `explain`) so they are not invisible. Local changes
// belong in the selection's `overrides`.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cmp } from "../manifest/diagnostics.js";

/** Where quadlet (Podman 5.x) and systemd look for drop-ins of a container unit and its service, relative to the root. */
export function dropInDirs(name: string): string[] {
  // foo-bar-baz also reads foo-bar-.container.d and foo-.container.d (systemd's prefix drop-ins), then the type-wide one.
  const parts = name.split("-");
  const prefixes = parts.slice(0, -1).map((_, i) => `${parts.slice(0, i + 1).join("-")}-`);
  const quadletDirs = ["etc/containers/systemd", "etc/containers/systemd/archy", "run/containers/systemd", "usr/share/containers/systemd"];
  const systemdDirs = ["etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system"];
  return [
    ...quadletDirs.flatMap((d) => [`${d}/${name}.container.d`, ...prefixes.map((p) => `${d}/${p}.container.d`), `${d}/container.d`]),
    ...systemdDirs.flatMap((d) => [`${d}/${name}.service.d`, ...prefixes.map((p) => `${d}/${p}.service.d`), `${d}/service.d`]),
  ];
}

/** The `*.conf` drop-ins that apply to each named container, as absolute paths under `/`. */
export function findDropIns(root: string, names: readonly string[]): Map<string, string[]> {
  const listed = new Map<string, string[]>();
  const list = (dir: string): string[] => {
    let got = listed.get(dir);
    if (got === undefined) {
      try {
        got = readdirSync(join(root, dir)).filter((n) => n.endsWith(".conf")).sort(cmp).map((n) => `/${dir}/${n}`);
      } catch {
        got = [];
      }
      listed.set(dir, got);
    }
    return got;
  };
  const out = new Map<string, string[]>();
  for (const name of names) {
    const found = dropInDirs(name).flatMap(list);
    if (found.length > 0) out.set(name, found);
  }
  return out;
}
