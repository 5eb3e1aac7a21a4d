// The activation layout as a node's boot sees it: the quadlet generator and PID 1
// read the stable links before a separately mounted /var exists, so nothing they
// read may resolve into var/. Shared by the apply, crash and layout tests.
import { lstatSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { stableLinks, STATE_REL } from "../../src/apply/state.js";

/** The materialised active tree on the root file system; `current` in it is the switch. */
export const ACTIVE = "etc/archy-quadlet/active";

/** Where etc/archy-quadlet/active/current points (a generation id), if anywhere. */
export function activeLink(root: string): string | undefined {
  try {
    return readlinkSync(join(root, ACTIVE, "current"));
  } catch {
    return undefined;
  }
}

/** The paths a boot reads: the unit tree, configs, the drop-in, archy-quadlet's units and their .wants links. */
export function bootPaths(root: string): string[] {
  const out = ["etc/containers/systemd/archy", "etc/archy", "etc/containers/containers.conf.d/50-archy.conf"];
  for (const dir of ["etc/systemd/system", ...["timers", "paths", "multi-user"].map((t) => `etc/systemd/system/${t}.target.wants`)]) {
    let names: string[] = [];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      /* none */
    }
    for (const n of names) if (n.startsWith("archy-quadlet-")) out.push(`${dir}/${n}`);
  }
  return out;
}

/** Boot paths whose resolution (any link on the way, followed fully) enters root/var. */
export function linksIntoVar(root: string): string[] {
  const varDir = join(realpathSync(root), "var") + "/";
  const bad: string[] = [];
  for (const rel of bootPaths(root)) {
    try {
      lstatSync(join(root, rel));
    } catch {
      continue;
    }
    // Each hop of the link chain, then the full resolution (links in the middle of the path count too).
    let abs = join(root, rel);
    for (let hops = 0; hops < 40; hops++) {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st?.isSymbolicLink()) break;
      abs = join(dirname(abs), readlinkSync(abs));
      if (abs.startsWith(join(root, "var") + "/")) bad.push(rel);
    }
    try {
      if (realpathSync(join(root, rel)).startsWith(varDir)) bad.push(rel);
    } catch {
      /* dangling: nothing to read */
    }
  }
  return [...new Set(bad)];
}

/** Turn a root into the layout before this one: every stable link straight into var/lib/archy-quadlet/current. */
export function toLegacyLayout(root: string): void {
  for (const { at, to } of stableLinks()) {
    if (to === "") continue;
    const abs = join(root, at);
    rmSync(abs, { force: true });
    symlinkSync(relative(dirname(`/${at}`), `/${STATE_REL}/current/${to}`), abs);
  }
  rmSync(join(root, ACTIVE), { recursive: true, force: true });
}
