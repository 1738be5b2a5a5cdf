/** lafs-attestation/v1 statement (DESIGN.md section 3). STUB. */
export const STATEMENT_KIND = 'lafs-attestation/v1';
export interface Artifact { name: string; sha256: string /* 64 lowercase hex */ }
export interface Statement { source: string; platform: string; artifacts: Artifact[] }
/** Throws LafsError('bad-statement') with a message "line N: ..." naming the rule broken. */
export declare function parseStatement(bytes: Uint8Array): Statement;
/** Canonical bytes; serializeStatement(parseStatement(x)) equals x for every valid x. Throws on invalid input. */
export declare function serializeStatement(s: Statement): Uint8Array;
