import { defineConfig, type Plugin } from 'vite';

/** Writes the list of the build's assets into the service worker (see sw/sw.ts), screens split off included. */
const swAssets = (): Plugin => ({
  name: 'freehold-sw-assets',
  generateBundle(_, bundle) {
    const sw = bundle['sw.js'];
    if (sw?.type !== 'chunk') throw new Error('the build has no sw.js');
    const assets = Object.keys(bundle).filter((f) => f.startsWith('assets/')).map((f) => `/${f}`);
    sw.code = sw.code.replace(/\bBUILD_ASSETS\b/, JSON.stringify(assets));
  },
});

// Workspace packages are bundled from their TypeScript sources (the "source" export condition).
export default defineConfig({
  plugins: [swAssets()],
  resolve: {
    conditions: ['source', 'browser', 'module', 'import', 'default'],
    // The provider's Content-Security-Policy has no 'unsafe-eval': cbor-x's build without generated code.
    alias: [
      { find: /^cbor-x$/, replacement: 'cbor-x/index-no-eval' },
      // The app is written against React's API and types, and runs on Preact's implementation of it: a tenth of
      // react-dom's size, which was a third of the signed-in first screen's JavaScript. JSX compiles (as tsconfig
      // says) to react/jsx-runtime, so that comes from Preact too.
      { find: /^react(?:-dom)?(\/client|\/jsx-runtime|\/jsx-dev-runtime)?$/, replacement: 'preact/compat$1' },
    ],
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
