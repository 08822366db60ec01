/**
 * Bundles the CLI and the GitHub Action into bundle/ (issue 12 item 6): start-up reads a few
 * files instead of hundreds, and the action runs with no install or build in the user's job.
 *
 *   node scripts/bundle.ts [--outdir <dir>]    (pnpm --filter @flotilla/flotilla bundle)
 *
 * esbuild rather than rolldown: its ESM code splitting, CommonJS interop and `platform: node`
 * handling have years of production use behind them, its API is a single call, and the bin
 * files below are the same entries tsc's dist/ runs. Rolldown 1.x would do as well; nothing here
 * depends on one or the other beyond this file.
 *
 * Output (every file next to the others, so `import.meta.url`-relative paths hold):
 *   flotilla.mjs         the CLI (bin/flotilla.js)
 *   action.mjs           the action (bin/action.js)
 *   generator-proxy.mjs  the changelog generator apply-release-plan loads by path (src/version/)
 *   <name>-<hash>.mjs    chunks: each `await import()` in the code stays a lazily loaded file, so
 *                        `plan` never parses dockerode, libnpmpublish or Octokit
 *   node_modules/<name>/ the packages src/ resolves at run time with createRequire (below)
 *   proto/*.proto        dockerode's BuildKit schemas, which it reads from its own folder
 *   THIRD-PARTY-LICENSES.txt  the licences of the bundled packages
 *
 * One difference from Node: `await import("cjs-package")` gives only `default` (module.exports) in
 * the bundle, where Node also guesses named exports; src/ reads CommonJS packages through `.default`.
 *
 * Not bundled: turbo (a platform binary; flotilla runs the workspace's own, see tools.ts) and
 * ssh2's native helpers (cpu-features, sshcrypto.node), which ssh2 loads in a try/catch and
 * replaces with JavaScript when absent.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdirArg = process.argv.indexOf("--outdir");
const target = outdirArg > 0 ? path.resolve(process.argv[outdirArg + 1]!) : path.join(pkgDir, "bundle");
// Built beside the target, then moved in file by file (below): a process running from the
// bundle — the action in this repository's own release, whose build step rebuilds it — never
// finds its folder empty or a file half written.
const outdir = `${target}.building-${process.pid}`;
process.on("exit", () => rmSync(outdir, { recursive: true, force: true })); // a failed build leaves nothing behind
const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { engines: { node: string } };

/** The bin files import tsc's output (`../dist/x.js`); the bundle takes the sources they came from. */
const fromSources: esbuild.Plugin = {
  name: "dist-to-src",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/dist\// }, (args) => ({
      path: path.join(pkgDir, "src", args.path.slice("../dist/".length).replace(/\.js$/, ".ts")),
    }));
  },
};

/** jsonc-parser's "main" is a UMD build whose require() calls esbuild cannot follow; its "module" build is the same code. */
const jsoncAsModule: esbuild.Plugin = {
  name: "jsonc-parser-esm",
  setup(build) {
    build.onResolve({ filter: /^jsonc-parser$/ }, (args) =>
      build.resolve("jsonc-parser/lib/esm/main.js", { kind: args.kind, resolveDir: args.resolveDir }),
    );
  },
};

/**
 * Modules some dependencies require at load time but use only on a path flotilla rarely takes;
 * each `require` below becomes a getter that loads the module on first use:
 * - libnpmpublish's provenance module requires sigstore (with tuf-js, ~0.1 s of CPU): only a
 *   publish with provenance calls it, yet every npm write paid for it;
 * - docker-modem requires ssh2 (~0.2 s unbundled) for `ssh://` Docker hosts: every image build
 *   paid for it.
 * The build fails when a line it rewrites is not there (a new version of the dependency), rather
 * than bundle the eager require unseen.
 */
const LAZY_REQUIRES: { file: RegExp; line: string; lazy: string }[] = [
  {
    file: /[\\/]libnpmpublish[\\/]lib[\\/]provenance\.js$/,
    line: "const sigstore = require('sigstore')",
    lazy: "const sigstore = new Proxy({}, { get: (_, key) => require('sigstore')[key] })",
  },
  {
    file: /[\\/]docker-modem[\\/]lib[\\/]ssh\.js$/,
    line: "var Client = require('ssh2').Client,",
    // Called with `new`: a constructor that returns an object gives that object.
    lazy: "var Client = function (...args) { return new (require('ssh2').Client)(...args); },",
  },
];
const lazyRequires: esbuild.Plugin = {
  name: "lazy-requires",
  setup(build) {
    for (const { file, line, lazy } of LAZY_REQUIRES)
      build.onLoad({ filter: file }, (args) => {
        const source = readFileSync(args.path, "utf8");
        if (!source.includes(line)) throw new Error(`${args.path}: "${line}" not found; update LAZY_REQUIRES in scripts/bundle.ts`);
        return { contents: source.replace(line, () => lazy), loader: "js", resolveDir: path.dirname(args.path) };
      });
  },
};

const common: esbuild.BuildOptions = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: `node${pkg.engines.node.replace(/^>=/, "")}`,
  sourcemap: "linked",
  // Bundled CommonJS (npm's and Docker's clients) calls require() for Node's built-ins and reads
  // __dirname (ssh2's WebAssembly loader); an ES module has neither, so each output file gets
  // them. `define` renames only the free __dirname/__filename, never a module's own variable.
  banner: {
    js: [
      'import { createRequire as __flotillaCreateRequire } from "node:module";',
      'import { fileURLToPath as __flotillaFileURLToPath } from "node:url";',
      "const require = __flotillaCreateRequire(import.meta.url);",
      "const __flotillaFilename = __flotillaFileURLToPath(import.meta.url);",
      'const __flotillaDirname = __flotillaFileURLToPath(new URL(".", import.meta.url));',
    ].join("\n"),
  },
  define: { __dirname: "__flotillaDirname", __filename: "__flotillaFilename" },
  logLevel: "warning",
};

rmSync(outdir, { recursive: true, force: true });

const result = await esbuild.build({
  ...common,
  entryPoints: [
    { in: path.join(pkgDir, "bin/flotilla.js"), out: "flotilla" },
    { in: path.join(pkgDir, "bin/action.js"), out: "action" },
    { in: path.join(pkgDir, "src/version/generator-proxy.ts"), out: "generator-proxy" },
  ],
  outdir,
  splitting: true,
  chunkNames: "[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  external: ["cpu-features", "*.node"],
  plugins: [fromSources, jsoncAsModule, lazyRequires],
  metafile: true,
});

/**
 * Packages src/ resolves at run time with createRequire(import.meta.url), not imports (esbuild
 * leaves those calls alone): each is bundled into bundle/node_modules/<name>/, where Node's
 * resolution from the bundle finds it. changelog-generator.ts: changesets' default generator;
 * docker.ts: @balena/dockerignore. turbo stays out (a platform binary; tools.ts explains).
 */
const RUNTIME_RESOLVED = ["@changesets/changelog-git", "@balena/dockerignore"];
const NOT_BUNDLED = ["turbo/package.json"];

const resolvedMetafiles: esbuild.Metafile[] = [];
for (const name of RUNTIME_RESOLVED) {
  const manifest = JSON.parse(readFileSync(path.join(packageRoot(name), "package.json"), "utf8")) as { version: string; type?: string };
  const esm = manifest.type === "module";
  const file = esm ? "index.mjs" : "index.cjs";
  const dir = path.join(outdir, "node_modules", name);
  const built = await esbuild.build({
    ...common,
    banner: {},
    define: {},
    format: esm ? "esm" : "cjs",
    entryPoints: [resolveFromPackage(name)],
    outfile: path.join(dir, file),
    metafile: true,
  });
  resolvedMetafiles.push(built.metafile);
  writeFileSync(
    path.join(dir, "package.json"),
    `${JSON.stringify({ name, version: manifest.version, ...(esm ? { type: "module" } : {}), exports: `./${file}` }, null, 2)}\n`,
  );
}

// A new createRequire(import.meta.url) of a package in src/ would fail only where no node_modules
// is above the bundle (the action): refuse to build until it is listed above.
for (const f of readdirSync(outdir).filter((f) => f.endsWith(".mjs"))) {
  for (const m of readFileSync(path.join(outdir, f), "utf8").matchAll(/createRequire\(import\.meta\.url\)(?:\.resolve)?\("([^"]+)"\)/g)) {
    const specifier = m[1]!;
    if (!RUNTIME_RESOLVED.includes(specifier) && !NOT_BUNDLED.includes(specifier)) {
      throw new Error(
        `${f}: createRequire(import.meta.url) of "${specifier}" is not bundled: add it to RUNTIME_RESOLVED in scripts/bundle.ts`,
      );
    }
  }
}

/**
 * Files bundled CommonJS reads at run time from `__dirname` (the bundle's folder once bundled):
 * dockerode's BuildKit session and progress decoder load their .proto schemas from `proto/`.
 */
const dockerodeLib = path.join(path.dirname(resolveFromPackage("dockerode")), "proto");
mkdirSync(path.join(outdir, "proto"));
for (const f of readdirSync(dockerodeLib).filter((f) => f.endsWith(".proto")))
  writeFileSync(path.join(outdir, "proto", f), readFileSync(path.join(dockerodeLib, f)));

writeFileSync(path.join(outdir, "THIRD-PARTY-LICENSES.txt"), licences([result.metafile, ...resolvedMetafiles]));

replaceInto(outdir, target);

const files = readdirSync(target).filter((f) => f.endsWith(".mjs"));
const size = files.reduce((n, f) => n + readFileSync(path.join(target, f)).length, 0);
console.log(`bundle/: ${files.length} files, ${(size / 1024).toFixed(0)} KiB of JavaScript`);

/**
 * Moves every file of `from` into `to` with rename (atomic per file; chunk names are content
 * hashes, so an unchanged chunk is replaced by the same bytes), then removes what the new build
 * no longer has, and `from`.
 */
function replaceInto(from: string, to: string): void {
  const fresh = new Set<string>();
  for (const rel of readdirSync(from, { recursive: true, encoding: "utf8" })) {
    const src = path.join(from, rel);
    if (statSync(src).isDirectory()) continue;
    mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    renameSync(src, path.join(to, rel));
    fresh.add(rel);
  }
  for (const rel of readdirSync(to, { recursive: true, encoding: "utf8" })) {
    const file = path.join(to, rel);
    if (!fresh.has(rel) && existsSync(file) && !statSync(file).isDirectory()) rmSync(file);
  }
  rmSync(from, { recursive: true, force: true });
}

function resolveFromPackage(specifier: string): string {
  return createRequire(path.join(pkgDir, "package.json")).resolve(specifier);
}

function packageRoot(name: string): string {
  return path.join(pkgDir, "node_modules", name);
}

/** One notice per bundled package (name@version and its licence file), as their licences require. */
function licences(metafiles: esbuild.Metafile[]): string {
  const roots = new Map<string, string>();
  for (const m of metafiles)
    for (const input of Object.keys(m.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match) roots.set(match[1]!, match[1]!);
    }
  const out: string[] = [];
  for (const root of [...roots.keys()].sort()) {
    const dir = path.resolve(root);
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
      name: string;
      version: string;
      license?: string;
    };
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
    out.push(
      `${manifest.name}@${manifest.version} (${manifest.license ?? "see its licence"})\n\n${file ? readFileSync(path.join(dir, file), "utf8").trim() : "(no licence file in the package)"}\n`,
    );
  }
  return `${[...new Set(out)].join(`\n${"-".repeat(72)}\n\n`)}`;
}
