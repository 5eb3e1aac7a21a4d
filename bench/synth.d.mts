// Types for bench/synth.mjs (used by tests).
export function synthCatalog(n: number, seed?: number): { files: Map<string, string> };
export function writeCatalog(n: number, dir: string, seed?: number): string;
