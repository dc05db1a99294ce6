import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Workspace packages are bundled from their TypeScript sources (the "source" export condition).
export default defineConfig({
  plugins: [react()],
  resolve: {
    conditions: ['source', 'browser', 'module', 'import', 'default'],
    // The provider's Content-Security-Policy has no 'unsafe-eval': cbor-x's build without generated code.
    alias: [{ find: /^cbor-x$/, replacement: 'cbor-x/index-no-eval' }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    // The service worker is served from the root under a fixed name: its scope is the whole app.
    rollupOptions: {
      input: { index: 'index.html', sw: 'sw/sw.ts' },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
});
