// The one way a derived config is rendered: a precompiled handlebars template
// (templates/*.hbs: strict, noEscape, built-in helpers only — scripts/hbs.mjs)
// over data in which every string is a single line. A value with a line break,
// CR or NUL could inject config lines, so it throws before anything is rendered;
// a missing value throws in the template (strict). Lists of lines are arrays.
export function renderConfig(template: (data: object) => string, data: object): string {
  checkLines(data, "");
  return template(data);
}

function checkLines(v: unknown, path: string): void {
  if (typeof v === "string") {
    if (/[\n\r\0]/.test(v)) throw new Error(`template value ${path || "(root)"} contains a line break, carriage return or NUL`);
  } else if (Array.isArray(v)) v.forEach((x, i) => checkLines(x, `${path}[${i}]`));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) checkLines(x, path ? `${path}.${k}` : k);
}

// A deliberately tiny template renderer for the string templates not yet moved to
// handlebars (templates/torrc.ts): {{name}} only. Unknown or unused slots
// are bugs, and a value with a line break could inject config lines, so both throw.
// Every value is checked: CR and NUL never pass; a line break only in a block —
// complete lines (built from line()-checked lines) in a slot that starts a line.
export function render(template: string, values: Record<string, string>): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{([a-z_]+)\}\}/g, (_, name: string, at: number) => {
    const v = values[name];
    if (v === undefined) throw new Error(`template slot {{${name}}} has no value`);
    if (/[\r\0]/.test(v)) throw new Error(`value for {{${name}}} contains a carriage return or NUL`);
    if (v.includes("\n") && ((at > 0 && template[at - 1] !== "\n") || !v.endsWith("\n"))) {
      throw new Error(`value for {{${name}}} contains a line break, but the slot is inside a line (only whole lines may fill a slot that starts a line)`);
    }
    used.add(name);
    return v;
  });
  for (const k of Object.keys(values)) if (!used.has(k)) throw new Error(`value "${k}" fills no template slot`);
  return out;
}

/** Single-line values only; multi-line blocks are built from checked lines. */
export function line(v: string): string {
  if (/[\n\r\0]/.test(v)) throw new Error("config value contains a line break or NUL");
  return v;
}
