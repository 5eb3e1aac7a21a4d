import { z } from "zod";
import { appSchema } from "./schema.js";

/** JSON Schema of one manifest, for yaml-language-server and editors. */
export function manifestJsonSchema(): unknown {
  const s = z.toJSONSchema(appSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...s, title: "archy-quadlet app manifest" };
}
