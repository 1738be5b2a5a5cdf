/** merkle: pure RFC 9162 + C2SP log math. No I/O; runs in Node and browsers; depends only on @noble/hashes. */
export * from './errors.js';
export * from './base64.js';
export * from './hash.js';
export * from './tiles.js';
export * from './proof.js';
export * from './tile-source.js';
export * from './tree.js';
export * from './bundle.js';
export * from './note.js';
export * from './checkpoint.js';
export * from './tlog-proof.js';
