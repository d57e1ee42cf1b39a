// Builds the admin console into internal/gateway/adminui/dist (or the
// directory given as the first argument): one JavaScript and one CSS file,
// each named by a hash of its content, and the page that loads them.
// The output depends only on the sources and the locked packages, so a
// rebuild of a commit gives the same bytes (make ui-check compares them).
import * as esbuild from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "../../internal/gateway/adminui/dist"));

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((f) => basename(f));
const script = outputs.find((f) => f.endsWith(".js"));
const style = outputs.find((f) => f.endsWith(".css"));
if (!script || !style) throw new Error(`unexpected build outputs: ${outputs.join(", ")}`);

const page = readFileSync(join(here, "src/index.html"), "utf8")
  .replace("{{script}}", `assets/${script}`)
  .replace("{{style}}", `assets/${style}`);
writeFileSync(join(out, "index.html"), page);
writeFileSync(join(out, "favicon.svg"), readFileSync(join(here, "src/favicon.svg")));
