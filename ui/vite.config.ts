import { defineConfig } from 'vitest/config';

// No React plugin: Vite's built-in transform compiles TSX with the automatic JSX runtime
// (tsconfig "jsx": "react-jsx"). `base: './'` keeps asset URLs relative, so the same dist works
// from http://127.0.0.1:PORT/ and from tauri://localhost/.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // `npm run dev` proxies the API to a running `flightdeck serve` (FLIGHTDECK_URL, default :7878).
    proxy: {
      '/api': process.env.FLIGHTDECK_URL || 'http://127.0.0.1:7878',
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
