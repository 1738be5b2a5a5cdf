/** sha256sums statement kind: a builder's signed checksum file taken verbatim. STUB. */
export const SUMS_KIND = 'sha256sums';
export interface SumsLine { line: number; name: string; sha256: string; binary: boolean }
/** `duplicates` lists names that appear twice with different hashes (kept, flagged). */
export interface ParsedSums { lines: SumsLine[]; duplicates: string[] }
/** Unsigned submitter claims recorded next to the signed bytes. Exactly one of platform / platformRegex. */
export interface SumsClaims { source: string; platform?: string; platformRegex?: string }
export declare function parseSums(bytes: Uint8Array): ParsedSums; // throws LafsError('bad-sums') naming the line
export declare function validateClaims(claims: unknown): SumsClaims; // throws LafsError('bad-request') naming the field
/** Artifacts with their platform (the claim, or the regex's named group; a name the regex does not match gets no platform and is flagged). */
export declare function sumsArtifacts(parsed: ParsedSums, claims: SumsClaims): { platform: string | null; name: string; sha256: string }[];
