/**
 * Prints the one-core limits of limits.ts as one JSON line, measured in this fresh process:
 * `{ "openpgpJs": verifies/s, "project": verifies/s }` (EdDSA key, key parsed once). Run by
 * measureLimitsInFreshProcesses, not by `npm run bench`.
 */
import { measureOpenpgpJsRate, measureOpenpgpVerifyRate } from './limits.js';

const ms = Number(process.argv[2] ?? 2000);
const openpgpJs = Math.round(await measureOpenpgpJsRate(ms, 'eddsa'));
const project = Math.round(await measureOpenpgpVerifyRate(ms, { type: 'eddsa' }));
console.log(JSON.stringify({ openpgpJs, project }));
