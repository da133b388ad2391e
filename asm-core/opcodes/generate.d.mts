// Types of generate.mjs, for the TypeScript tests.
export const GENERATED: string;
export const ENDS: (string | undefined)[];
export function generate(): string;
export function writeGenerated(): boolean;
