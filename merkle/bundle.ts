/** C2SP tlog-tiles entry bundles. STUB. */
/** Concatenation of (2-byte big-endian length || leaf); throws LafsError('too-large') for a leaf over 65535 bytes. */
export declare function encodeEntryBundle(leaves: readonly Uint8Array[]): Uint8Array;
/** Throws LafsError('bad-bundle') on truncation, trailing bytes or (when given) a count other than `expected`. */
export declare function decodeEntryBundle(bytes: Uint8Array, expected?: number): Uint8Array[];
