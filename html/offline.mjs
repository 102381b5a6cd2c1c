// html/offline.mjs — a page's external URLs answered from local packages:
// render farms have no internet, and a render must not depend on one.
//
//   cdn.jsdelivr.net/npm/PKG@VER/FILE, unpkg.com/PKG@VER/FILE,
//   cdnjs.cloudflare.com/ajax/libs/NAME/VER/FILE
//       -> FILE of the npm package PKG installed locally, if its version is
//          the one asked for (a range such as gsap@3 matches an installed
//          3.x).  Another version is never substituted silently: not
//          served, one line naming the URL and the installed version.
//   fonts.googleapis.com/css, /css2 ?family=Name:wght@400;600...
//       -> @font-face rules of the npm package @fontsource/<name> (its own
//          per-weight CSS: every subset, with its unicode-range), their
//          files served at https://fonts.gstatic.com/fb-local/...  Weights
//          or families it lacks: one line naming them.
//   anything else external -> aborted, one line naming it.
//
// Packages are looked up in the worker's --modules DIRs, then html's own
// node_modules (package.json: gsap, @fontsource/inter, ...).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveUnder, fileResponse, warnOnce } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FONT_HOST = 'fonts.gstatic.com';
const FONT_PREFIX = '/fb-local/';
// Where a @fontsource package's files are served: BASE + @fontsource/NAME/FILE.
export const LOCAL_FONT_BASE = `https://${FONT_HOST}${FONT_PREFIX}`;

// npm's rule for a package name (lower case, no leading . or _): a URL's
// "..", "." or "a/../b" is no package, so no path out of node_modules.
const PACKAGE_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/;

// A package's directory and version, or null: the first DIR holding it.
function findPackage(dirs, name) {
	if (!PACKAGE_NAME.test(name) || name.length > 214) return null;
	for (const d of dirs) {
		try {
			const dir = fs.realpathSync(path.join(d, name));
			const v = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
			return { dir, version: v };
		} catch { /* not there */ }
	}
	return null;
}

// Does `installed` (x.y.z) satisfy `want` as a CDN reads it: absent or
// "latest": any; "3", "3.14": that prefix; "^3.1.0", "~3.14.0": the npm
// meaning; anything else: an exact version.
export function versionMatches(want, installed) {
	if (!want || want === 'latest') return true;
	const iv = installed.split(/[.+-]/).slice(0, 3).map(Number);
	const caret = want[0] === '^', tilde = want[0] === '~';
	const w = (caret || tilde ? want.slice(1) : want).replace(/^v/, '');
	if (!/^\d+(\.\d+){0,2}$/.test(w)) return w === installed;
	const wv = w.split('.').map(Number);
	const cmp = () => {
		for (let i = 0; i < 3; i++) if ((iv[i] || 0) !== (wv[i] || 0)) return (iv[i] || 0) - (wv[i] || 0);
		return 0;
	};
	if (caret) {
		const lead = wv[0] !== 0 ? 1 : (wv[1] !== 0 ? 2 : 3);
		return wv.slice(0, lead).every((x, i) => x === iv[i]) && cmp() >= 0;
	}
	if (tilde) return wv[0] === iv[0] && (wv.length < 2 || wv[1] === iv[1]) && cmp() >= 0;
	return wv.every((x, i) => x === iv[i]); // "3" and "3.14" as prefixes, "3.14.2" exact
}

// PKG@VER/FILE (PKG maybe @scope/name; @VER optional) -> parts.
function splitSpec(s) {
	const m = /^((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(?:\/(.*))?$/.exec(s);
	return m && { name: m[1], version: m[2] ? decodeURIComponent(m[2]) : null, file: m[3] ? decodeURIComponent(m[3]) : '' };
}

// The default file of a package a CDN serves for a bare PKG@VER.
function defaultFile(dir) {
	const p = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
	const f = [p.jsdelivr, p.unpkg, p.browser, p.main].find((x) => typeof x === 'string');
	return f || 'index.js';
}

const NOT = Symbol('not a CDN URL');

// The package file a CDN URL names: { file, size } | { warn } | NOT.
function cdnFile(u, dirs) {
	let spec, cdnjs = false;
	if (u.hostname === 'cdn.jsdelivr.net' && u.pathname.startsWith('/npm/')) spec = u.pathname.slice(5);
	else if (u.hostname === 'unpkg.com') spec = u.pathname.slice(1);
	else if (u.hostname === 'cdnjs.cloudflare.com' && u.pathname.startsWith('/ajax/libs/')) {
		const m = /^\/ajax\/libs\/([^/]+)\/([^/]+)\/(.+)$/.exec(u.pathname);
		if (!m) return NOT;
		spec = `${m[1]}@${m[2]}/${m[3]}`;
		cdnjs = true;
	} else return NOT;
	const s = splitSpec(spec);
	if (!s) return NOT;
	const pkg = findPackage(dirs, s.name);
	if (!pkg) return { warn: `${u.href}: not served offline (npm package ${s.name} is not installed in ${dirs.join(', ')})` };
	if (!versionMatches(s.version, pkg.version)) {
		return { warn: `${u.href}: not served offline (version ${s.version} asked, ${s.name} ${pkg.version} installed in ${path.dirname(pkg.dir)})` };
	}
	if (/^\+esm$|\/\+esm$/.test(s.file)) return { warn: `${u.href}: not served offline (jsDelivr's +esm bundles are made by jsDelivr, not in the package)` };
	// cdnjs lays files out its own way: FILE, else dist/FILE.
	const tries = s.file ? (cdnjs ? [s.file, `dist/${s.file}`] : [s.file]) : [defaultFile(pkg.dir)];
	for (const t of tries) {
		const r = resolveUnder(pkg.dir, t);
		if (r.file) return r;
	}
	return { warn: `${u.href}: not served offline (${tries[0]} is not in ${pkg.dir})` };
}

// Google Fonts' family parameters -> [{ family, faces: [{weight, style}] }].
//   css2: family=Name:ital,wght@0,400;1,700 | Name:wght@400;600 | Name
//   css:  family=Name:400,700italic|Other
export function parseFontQuery(u) {
	const out = [];
	const fams = u.pathname === '/css2' ? u.searchParams.getAll('family')
		: (u.searchParams.get('family') || '').split('|').filter(Boolean);
	for (const f of fams) {
		const [name, axes = ''] = f.split(':');
		const faces = [];
		if (u.pathname === '/css2') {
			const [keys, vals] = axes.split('@');
			const ks = keys ? keys.split(',') : [];
			for (const tuple of vals ? vals.split(';') : []) {
				const v = tuple.split(',');
				const ital = ks.includes('ital') ? v[ks.indexOf('ital')] === '1' : false;
				const w = ks.includes('wght') ? v[ks.indexOf('wght')] : '400';
				faces.push({ weight: w, style: ital ? 'italic' : 'normal' });
			}
		} else {
			for (const v of axes ? axes.split(',') : []) {
				const m = /^(\d*)(i|italic)?$/.exec(v);
				if (m) faces.push({ weight: m[1] || '400', style: m[2] ? 'italic' : 'normal' });
			}
		}
		if (!faces.length) faces.push({ weight: '400', style: 'normal' });
		out.push({ family: name.replace(/\+/g, ' ').trim(), faces });
	}
	return out;
}

// @font-face CSS for a Google Fonts URL, from @fontsource packages.
function fontCss(u, dirs, log) {
	const display = u.searchParams.get('display') || 'swap';
	let css = '';
	for (const { family, faces } of parseFontQuery(u)) {
		// The family goes into CSS and a package name: letters, digits,
		// spaces and hyphens only (Google's own names), else not served.
		if (!/^[A-Za-z0-9][A-Za-z0-9 -]{0,63}$/.test(family)) {
			warnOnce(log, `${u.href}: a font family ${JSON.stringify(family.slice(0, 64))} not served offline (not a font family name)`);
			continue;
		}
		const name = `@fontsource/${family.toLowerCase().replace(/\s+/g, '-')}`;
		const pkg = findPackage(dirs, name);
		if (!pkg) {
			warnOnce(log, `${u.href}: font ${family} not served offline (npm package ${name} is not installed in ${dirs.join(', ')})`);
			continue;
		}
		const lacking = [];
		for (const { weight, style } of faces) {
			// A range (wght@100..900, a variable font): the package's
			// static weights in it.
			if (!/^\d{1,4}(\.\.\d{1,4})?$/.test(weight)) { lacking.push(JSON.stringify(weight.slice(0, 16))); continue; }
			const ws = weight.includes('..') ? staticWeights(pkg.dir, weight) : [weight];
			for (const w of ws) {
				const file = path.join(pkg.dir, `${w}${style === 'italic' ? '-italic' : ''}.css`);
				let text;
				try { text = fs.readFileSync(file, 'utf8'); } catch { lacking.push(`${w}${style === 'italic' ? ' italic' : ''}`); continue; }
				const base = `https://${FONT_HOST}${FONT_PREFIX}${name}/`;
				css += text
					.replace(/url\(\.\/([^)]+)\)/g, (_, f) => `url(${base}${f})`)
					.replace(/font-family:\s*[^;]+;/g, `font-family: '${family}';`)
					.replace(/font-display:\s*[^;]+;/g, `font-display: ${display};`);
			}
		}
		if (lacking.length) warnOnce(log, `${u.href}: ${family} ${lacking.join(', ')} not in ${name} ${pkg.version} (the browser substitutes the nearest weight)`);
	}
	return css;
}

function staticWeights(dir, range) {
	const [lo, hi] = range.split('..').map(Number);
	return fs.readdirSync(dir).map((f) => /^(\d+)\.css$/.exec(f)).filter(Boolean).map((m) => Number(m[1]))
		.filter((w) => w >= lo && w <= hi).sort((a, b) => a - b).map(String);
}

// The interception handler (serve.mjs intercept's handlers): modules, the
// --modules DIRs.
export function offlineHandler({ modules = [], log }) {
	const dirs = [...modules.map((d) => path.resolve(d)), path.join(here, 'node_modules')];
	const cors = { 'Access-Control-Allow-Origin': '*' };
	return async (u, req) => {
		const c = cdnFile(u, dirs);
		if (c !== NOT) {
			if (c.file) return fileResponse(c.file, c.size, undefined, cors);
			warnOnce(log, c.warn);
			return 'abort';
		}
		if (u.hostname === 'fonts.googleapis.com' && (u.pathname === '/css' || u.pathname === '/css2')) {
			return { status: 200, headers: { 'Content-Type': 'text/css; charset=utf-8', ...cors }, body: Buffer.from(fontCss(u, dirs, log)) };
		}
		if (u.hostname === FONT_HOST && u.pathname.startsWith(FONT_PREFIX)) {
			const m = /^((?:@[^/]+\/)?[^/]+)\/(.+)$/.exec(decodeURIComponent(u.pathname.slice(FONT_PREFIX.length)));
			const pkg = m && m[1].startsWith('@fontsource/') && findPackage(dirs, m[1]);
			const r = pkg && resolveUnder(pkg.dir, m[2]);
			if (r && r.file) return fileResponse(r.file, r.size, req.headers?.Range || req.headers?.range, cors);
		}
		if (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') {
			warnOnce(log, `${u.href.length > 200 ? `${u.href.slice(0, 200)}...` : u.href}: external, not served offline (aborted)`);
		}
		return 'abort';
	};
}
