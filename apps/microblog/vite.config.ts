import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Workspace packages are bundled from their TypeScript sources (the "source" export condition).
export default defineConfig({
  plugins: [react()],
  resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
});
