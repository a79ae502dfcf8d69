// Copies the non-TypeScript runtime files (runners, kernels) next to the compiled code in dist/.
import { cpSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ASSET = /\.(py|cjs|mjs|sh|json|snap|pyi|html|css)$/;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (ASSET.test(name) && !name.endsWith('.test.ts')) {
      const target = path.join('dist', path.relative('src', p));
      cpSync(p, target);
    }
  }
}
walk('src');
