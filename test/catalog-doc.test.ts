// docs/catalog.md is generated from the manifests (src/configs/catalog-doc.ts):
// it must match them. UPDATE_CATALOG_DOC=1 rewrites it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogDoc } from "../src/configs/catalog-doc.js";
import { REPO } from "./helpers/quadlet.js";

const FILE = join(REPO, "docs/catalog.md");

describe("docs/catalog.md", () => {
  const text = catalogDoc(join(REPO, "manifests"));
  if (process.env.UPDATE_CATALOG_DOC) writeFileSync(FILE, text);

  it("is current (UPDATE_CATALOG_DOC=1 npx vitest run test/catalog-doc.test.ts rewrites it)", () => {
    expect(readFileSync(FILE, "utf8")).toBe(text);
  });

  it("has one section per manifest, each with every row filled", () => {
    const apps = text.split("\n### ").slice(1);
    expect(apps.length).toBe(27);
    for (const a of apps) {
      for (const row of ["image", "user", "data", "credentials", "health", "network", "upstream"]) expect(a, `${a.split("\n")[0]}: ${row}`).toMatch(new RegExp(`^\\| ${row} \\| \\S`, "m"));
    }
  });

  it("cites upstream files for every app (the manifest's leading comment block)", () => {
    for (const sec of text.split("\n### ").slice(1)) expect(sec, sec.split("\n")[0]).not.toMatch(/^\| upstream \| — \|$/m);
  });
});
