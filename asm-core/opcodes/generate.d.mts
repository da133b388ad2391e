// Types of generate.mjs, for the TypeScript tests.
export const GENERATED: string;
export const GENERATED_INLINE: string;
export const ENDS: (string | undefined)[];
export function generate(): string;
export function generateInline(): string;
export function generatedFiles(): [string, string][];
export function writeGenerated(): string[];
