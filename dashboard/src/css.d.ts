// CSS imports are bundled by esbuild (scripts/build-dashboard.mjs); they export nothing.
declare module '*.css';
