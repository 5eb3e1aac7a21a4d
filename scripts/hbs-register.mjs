// `node --import tsx --import ./scripts/hbs-register.mjs src/cli/run.ts`: runs from the
// sources load templates/*.hbs precompiled, as the bundle and the tests do.
import { register } from "node:module";

register("./hbs.mjs", import.meta.url);
