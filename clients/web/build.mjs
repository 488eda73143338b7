// Builds the web client into dist/, which is committed and embedded in the
// server binary (crates/magpie-server/src/web.rs):
//
//   dist/index.html       the chat app, served at /
//   dist/admin.html       the admin console, served at /admin
//   dist/assets/*         JS, CSS and images, content-hashed names
//
//   cd clients/web && npm ci && node build.mjs
//
// esbuild bundles, splits and minifies; the pages link their JS and CSS as
// files (no inline script or style: the server's Content-Security-Policy
// forbids both). The output is byte-for-byte deterministic, so CI rebuilds
// it and compares it with the committed one (check.sh). The build fails if
// a page's initial load (its JS and CSS, gzip-compressed) is over budget.

import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const ROOT = dirname(fileURLToPath(import.meta.url));
const DIST = join(ROOT, "dist");
/** Most compressed bytes of JS and CSS a page may load before it is usable. */
const BUDGET_GZIP = 200 * 1024;

/** The pages: each an esbuild entry point (its name names its assets). */
const PAGES = [
  { html: "index.html", entry: "app", source: "src/main.tsx", title: "Magpie" },
  { html: "admin.html", entry: "admin", source: "src/admin/main.tsx", title: "Magpie admin console" },
];

/** Files copied into dist/assets under a content-hashed name. */
const STATIC = [{ source: "src/icon.svg", name: "icon", ext: "svg" }];

const result = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: Object.fromEntries(PAGES.map((p) => [p.entry, p.source])),
  outdir: "dist",
  entryNames: "assets/[name]-[hash]",
  chunkNames: "assets/chunk-[hash]",
  assetNames: "assets/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  tsconfig: "tsconfig.json",
  jsx: "automatic",
  jsxImportSource: "preact",
  define: { "process.env.NODE_ENV": '"production"' },
  loader: { ".svg": "file", ".png": "file", ".woff2": "file" },
  metafile: true,
  write: false,
  logLevel: "warning",
});

/** dist-relative path ("assets/app-X.js") of an esbuild output path. */
const distPath = (path) => relative(DIST, join(ROOT, path)).split("\\").join("/");

// Everything to write, by dist-relative path.
const files = new Map();
for (const out of result.outputFiles) {
  files.set(relative(DIST, out.path).split("\\").join("/"), Buffer.from(out.contents));
}

const statics = {};
for (const s of STATIC) {
  const bytes = await readFile(join(ROOT, s.source));
  const path = `assets/${s.name}-${contentHash(bytes)}.${s.ext}`;
  files.set(path, bytes);
  statics[s.name] = path;
}

// Each page's initial load: its entry, the chunks it imports statically
// (transitively: not the dynamic imports, which load later) and its CSS.
// esbuild puts all CSS a page's modules import, lazily loaded ones too,
// into that page's one stylesheet (its cssBundle), so all of it counts.
const outputs = result.metafile.outputs;
const report = [];
let overBudget = false;
for (const page of PAGES) {
  const [entryOut, meta] =
    Object.entries(outputs).find(([, m]) => m.entryPoint === page.source) ??
    fail(`esbuild produced no output for ${page.source}`);
  const js = [];
  const visit = (path) => {
    if (js.includes(path)) return;
    js.push(path);
    for (const imp of outputs[path]?.imports ?? []) {
      if (imp.kind === "import-statement" && !imp.external) visit(imp.path);
    }
  };
  visit(entryOut);
  const css = meta.cssBundle ? [meta.cssBundle] : [];
  const [entryJs, ...chunks] = js.map(distPath);
  const html = pageHtml({
    title: page.title,
    icon: statics.icon,
    css: css.map(distPath),
    preload: chunks.sort(),
    script: entryJs,
  });
  files.set(page.html, Buffer.from(html, "utf8"));

  let raw = 0;
  let gzip = 0;
  for (const path of [...js, ...css].map(distPath)) {
    const bytes = files.get(path) ?? fail(`${page.html} loads ${path}, which was not built`);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }).length;
  }
  report.push({ page: page.html, files: js.length + css.length, raw, gzip });
  if (gzip > BUDGET_GZIP) overBudget = true;
}

// Write dist/ afresh, so no stale asset stays behind.
await rm(DIST, { recursive: true, force: true });
for (const path of [...files.keys()].sort()) {
  const target = join(DIST, path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, files.get(path));
}

console.log(`built ${files.size} files into dist/`);
console.log("initial load per page (JS + CSS; gzip level 9, budget %s):", kb(BUDGET_GZIP));
for (const r of report) {
  console.log(
    `  ${r.page.padEnd(11)} ${String(r.files).padStart(2)} files  ${kb(r.raw).padStart(20)} raw  ${kb(r.gzip).padStart(20)} gzip`,
  );
}
if (overBudget) {
  console.error(
    `build.mjs: FAIL: a page's initial load is over ${BUDGET_GZIP} bytes gzip-compressed: split it (import() what is not needed at first) or trim it`,
  );
  process.exit(1);
}

/** The page: links to its CSS and module script only, nothing inline. */
function pageHtml({ title, icon, css, preload, script }) {
  const lines = [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(title)}</title>`,
    `<link rel="icon" href="/${icon}" type="image/svg+xml">`,
    ...css.map((href) => `<link rel="stylesheet" href="/${href}">`),
    ...preload.map((href) => `<link rel="modulepreload" href="/${href}">`),
    `<script type="module" src="/${script}"></script>`,
    "</head>",
    "<body>",
    '<div id="app"></div>',
    "<noscript>Magpie needs JavaScript. Magpie 需要启用 JavaScript。</noscript>",
    "</body>",
    "</html>",
    "",
  ];
  return lines.join("\n");
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Eight base-32 characters of the SHA-256 of the bytes, as esbuild names its files. */
function contentHash(bytes) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const digest = createHash("sha256").update(bytes).digest();
  let out = "";
  for (let i = 0; i < 8; i++) out += alphabet[digest[i] % 32];
  return out;
}

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KB (${bytes} B)`;
}

function fail(message) {
  console.error(`build.mjs: FAIL: ${message}`);
  process.exit(1);
}
