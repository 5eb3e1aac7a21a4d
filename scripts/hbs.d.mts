export declare const HBS_OPTIONS: { strict: boolean; noEscape: boolean; knownHelpersOnly: boolean };
export declare function hbsModule(source: string): string;
export declare const hbsEsbuild: { name: string; setup(build: unknown): void };
export declare const hbsVite: { name: string; enforce: "pre"; transform(code: string, id: string): { code: string; map: null } | undefined };
export declare function load(url: string, context: unknown, next: (url: string, context: unknown) => Promise<unknown>): Promise<unknown>;
