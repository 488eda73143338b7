// Stylesheets are imported for their side effect: esbuild bundles them
// into a .css file per page (build.mjs), which the page links to.
declare module "*.css";
