// render() checks every value it interpolates: a line break can only fill a
// slot that starts a line, as whole lines; CR and NUL never.
import { describe, expect, it } from "vitest";
import { render } from "../../src/configs/render.js";

describe("render", () => {
  it("fills slots; a block of whole lines may fill a slot that starts a line", () => {
    expect(render("a={{a}}\n{{block}}[s]\n", { a: "1", block: "x=1\ny=2\n" })).toBe("a=1\nx=1\ny=2\n[s]\n");
    expect(render("{{block}}end", { block: "" })).toBe("end");
  });

  it.each([
    ["a line break in a slot inside a line", "pass={{v}}\n", "x\nrpcallowip=0.0.0.0/0"],
    ["a line break at the end of a slot inside a line", "pass={{v}}\n", "x\n"],
    ["a block that does not end its last line", "{{v}}[s]\n", "x=1\ny=2"],
    ["a carriage return", "pass={{v}}\n", "x\ry"],
    ["a NUL", "{{v}}\n", "x\0"],
  ])("refuses %s", (_, template, v) => {
    expect(() => render(template, { v })).toThrow(/line break|carriage return or NUL/);
  });

  it("refuses unknown and unused slots", () => {
    expect(() => render("{{a}}", {})).toThrow(/has no value/);
    expect(() => render("x", { a: "1" })).toThrow(/fills no template slot/);
  });
});

// renderConfig: the one render path of templates/*.hbs (precompiled, strict, noEscape).
import { renderConfig } from "../../src/configs/render.js";
import bitcoinConf from "../../templates/bitcoin.conf.hbs";
import { hbsModule } from "../../scripts/hbs.mjs";

describe("renderConfig", () => {
  const data = {
    header: "h",
    chain: "main",
    subnet: "10.89.0.0/24",
    settings: { txindex: "1", rpc_port: "8332" },
    options: [{ name: "dbcache", value: "2048" }],
    rpc_lines: ["rpcauth=a:b$c"],
    section: "main",
    section_lines: ["port=8333"],
  };

  it("renders a precompiled template; lists become lines; no HTML escaping", () => {
    const out = renderConfig(bitcoinConf, { ...data, header: "<&>" });
    expect(out).toContain("# <&>\n");
    expect(out).toContain("zmqpubrawtx=tcp://0.0.0.0:28333\ndbcache=2048\nrpcauth=a:b$c\n\n[main]\n");
    expect(out.endsWith("rpcport=8332\nport=8333\n")).toBe(true);
  });

  it.each([
    ["a line break in a value", { header: "x\nrpcallowip=0.0.0.0/0" }],
    ["a carriage return in a list item", { rpc_lines: ["x\ry"] }],
    ["a NUL in a nested value", { settings: { txindex: "1\0", rpc_port: "8332" } }],
    ["a line break in an option", { options: [{ name: "a", value: "1\nb=2" }] }],
  ])("refuses %s before rendering", (_, bad) => {
    expect(() => renderConfig(bitcoinConf, { ...data, ...bad })).toThrow(/line break, carriage return or NUL/);
  });

  it("strict: a value the template names but the data lacks throws", () => {
    const { settings: _, ...rest } = data;
    expect(() => renderConfig(bitcoinConf, rest)).toThrow(/not defined/);
  });

  it("the bundle's module form carries no compiler: only a precompiled spec for the runtime", () => {
    const mod = hbsModule("a={{a}}\n");
    expect(mod).toMatch(/^import Handlebars from "handlebars\/runtime\.js";\nexport default Handlebars\.template\(\{/);
  });
});
