/**
 * The dependency direction of DESIGN.md section 4, enforced: merkle ← attestation ← client ←
 * {cli, monitor}; log-server uses merkle and attestation; nothing imports log-server; merkle is
 * pure (no node: modules, no package but @noble/hashes) so it runs in browsers.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { repoRoot } from '../helpers/tmp.js';

const allowed: Record<string, readonly string[]> = {
  merkle: [],
  attestation: ['merkle'],
  client: ['merkle', 'attestation'],
  'log-server': ['merkle', 'attestation'],
  cli: ['merkle', 'attestation', 'client'],
  monitor: ['merkle', 'attestation', 'client'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/g)) specifiers.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) specifiers.push(m[1]!); // side-effect import
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(m[1]!);
  for (const m of text.matchAll(/new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url/g)) specifiers.push(m[1]!);
  return specifiers;
}

for (const [folder, deps] of Object.entries(allowed)) {
  test(`${folder}/ imports only from ${deps.length ? deps.join(', ') : 'itself'}`, (t) => {
    const violations: string[] = [];
    for (const file of sourceFiles(join(repoRoot, folder))) {
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = relative(repoRoot, resolve(dirname(file), spec)).split('/')[0]!;
          if (target !== folder && !deps.includes(target)) violations.push(`${relative(repoRoot, file)} imports ${spec}`);
        } else if (folder === 'merkle' && !spec.startsWith('@noble/hashes')) {
          violations.push(`${relative(repoRoot, file)} imports ${spec} (merkle must stay pure)`);
        }
      }
    }
    t.deepEqual(violations, []);
  });
}

test('the checker sees imports (it would catch a violation)', (t) => {
  const file = join(repoRoot, 'merkle', 'index.ts');
  t.true(importsOf(file).includes('./errors.js'));
});

/** Code without comments and string literals, so a mention in prose is not a use. */
function codeOf(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/[^\n]*/g, '')
    .replace(/(['"`])(?:\\.|(?!\1)[^\\\n])*\1/g, "''");
}

test('merkle/ uses no Node globals (it runs in browsers)', (t) => {
  const uses = sourceFiles(join(repoRoot, 'merkle')).flatMap((file) =>
    [...codeOf(file).matchAll(/\b(Buffer|process|require|__dirname|setImmediate)\b/g)].map((m) => `${relative(repoRoot, file)} uses ${m[1]}`),
  );
  t.deepEqual(uses, []);
});

test('the global checker sees a use (it would catch a violation)', (t) => {
  t.regex(codeOf(join(repoRoot, 'test', 'architecture', 'dependencies.test.ts')), /\bprocess\b|\bBuffer\b/);
});
