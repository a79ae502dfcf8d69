/**
 * Builds the workbench into dist/web, which the HTTP server serves at `/`
 * under a strict CSP: everything is an external file (no inline script or
 * style), and nothing is fetched from another origin.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Keep the CSS an external file and never inline assets as data: URLs into JS/CSS.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
