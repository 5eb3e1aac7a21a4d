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
