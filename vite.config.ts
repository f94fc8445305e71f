import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web page (src/ui) is built into dist/ui, which hark serves at `/` (index.html)
 * and `/ui/` (hashed assets). Preact's JSX is compiled by Vite's own transformer
 * (oxc), so no Babel preset is needed.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./src/ui', import.meta.url)),
  base: '/ui/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Everything is served by hark itself: no inlined data: URLs to reason about, no preload polyfill.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', proxy: { '/api': 'http://127.0.0.1:8000', '/debug': 'http://127.0.0.1:8000' } },
});
