// Types for scripts/build.mjs (used by tests).
export const ROOT: string;
export const BUNDLE: string;
export function stale(outfile?: string): boolean;
export function buildBundle(opts?: { outfile?: string }): Promise<{ outfile: string; bytes: number; inputs: number; metafile: unknown }>;
