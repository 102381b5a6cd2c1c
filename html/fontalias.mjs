// html/fontalias.mjs — the fonts a hyperframes project names but never
// provides, drawn as `hyperframes render` draws them.
//
// hyperframes' compiler gives every family the project names in CSS
// without providing it (no @font-face, no stylesheet declaring it) a
// bundled "canonical" font: "SF Mono" is drawn with JetBrains Mono, Arial
// with Inter, Georgia with EB Garamond...  (its FONT_ALIAS_MAP and
// CANONICAL_FONTS, read in its dist; none of its code is loaded here).  A
// renderer that let Chrome fall back to the machine's fonts instead would
// draw another font, so the project would not render as it does there.
// The table below is our own, mirroring hyperframes 0.9.84's; the faces
// are the same files hyperframes embeds: @fontsource/<name> latin subset,
// the same weights (checked byte for byte against its embedded data:
// @fontsource 5.3.0, EB Garamond 5.2.7), served from html/node_modules by
// offline.mjs.  hyperframes also asks Google Fonts for the canonical
// family's other weights and subsets when it is online; a render farm is
// not, so those are not added.  Every substitution is said, once per
// render: never a silent substitute.
import fs from 'node:fs';
import path from 'node:path';

// canonical slug -> display name and the weights hyperframes bundles.
const CANONICAL = {
	inter: ['Inter', [400, 700, 900]], montserrat: ['Montserrat', [400, 700, 900]],
	outfit: ['Outfit', [400, 700, 900]], nunito: ['Nunito', [400, 700, 900]], oswald: ['Oswald', [400, 700]],
	'league-gothic': ['League Gothic', [400]], 'archivo-black': ['Archivo Black', [400]],
	'space-mono': ['Space Mono', [400, 700]], 'ibm-plex-mono': ['IBM Plex Mono', [400, 700]],
	'jetbrains-mono': ['JetBrains Mono', [400, 700]], 'eb-garamond': ['EB Garamond', [400, 700]],
	'playfair-display': ['Playfair Display', [400, 700, 900]], 'source-code-pro': ['Source Code Pro', [400, 700]],
	'noto-sans-jp': ['Noto Sans JP', [400, 700]], roboto: ['Roboto', [400, 700, 900]],
	'open-sans': ['Open Sans', [400, 700]], lato: ['Lato', [400, 700, 900]], poppins: ['Poppins', [400, 700, 900]],
};

// family named (lower case) -> canonical slug.  The canonical fonts name
// themselves; then the system fonts of each platform, by kind.
const ALIAS = Object.fromEntries(Object.keys(CANONICAL).map((k) => [CANONICAL[k][0].toLowerCase(), k]));
const kinds = {
	inter: ['helvetica neue', 'helvetica', 'arial', 'helvetica bold', 'sf pro', 'sf pro display', 'sf pro text',
		'sf pro rounded', 'avenir', 'avenir next', 'lucida grande', 'geneva', 'optima', 'verdana', 'tahoma',
		'trebuchet ms', 'calibri', 'candara', 'corbel', 'lucida sans', 'lucida sans unicode', 'noto sans',
		'dejavu sans', 'liberation sans'],
	montserrat: ['futura', 'din alternate', 'arial black'],
	'league-gothic': ['bebas neue'],
	'jetbrains-mono': ['courier new', 'courier', 'sf mono', 'menlo', 'monaco', 'consolas', 'lucida console',
		'lucida sans typewriter', 'andale mono', 'dejavu sans mono', 'liberation mono'],
	'eb-garamond': ['garamond', 'georgia', 'palatino', 'palatino linotype', 'book antiqua', 'cambria', 'times',
		'times new roman', 'dejavu serif', 'liberation serif'],
	'noto-sans-jp': ['noto sans japanese'],
	roboto: ['segoe ui'],
};
for (const [slug, names] of Object.entries(kinds)) for (const n of names) ALIAS[n] = slug;

// The subset hyperframes bundles (fontsource's "latin"): its unicode-range.
const LATIN = 'U+0000-00FF, U+0131, U+0152-0153, U+02BB-02BC, U+02C6, U+02DA, U+02DC, U+0304, U+0308, U+0329, ' +
	'U+2000-206F, U+2074, U+20AC, U+2122, U+2191, U+2193, U+2212, U+2215, U+FEFF, U+FFFD';

const GENERIC = new Set(['serif', 'sans-serif', 'monospace', 'cursive', 'fantasy', 'system-ui', 'ui-sans-serif',
	'ui-serif', 'ui-monospace', 'ui-rounded', 'emoji', 'math', 'fangsong', 'inherit', 'initial', 'unset', 'revert',
	'revert-layer', '-apple-system', 'blinkmacsystemfont']);

// A font-family value -> its family names (quotes off, as written).
function families(value) {
	return (value.match(/"[^"]*"|'[^']*'|[^,]+/g) || []).map((f) => f.trim().replace(/^["']|["']$/g, '').trim())
		.filter((f) => f && !f.startsWith('var(') && !GENERIC.has(f.toLowerCase()));
}

const FACE = /@font-face\s*\{[^}]*\}/gi;
// A font-family declaration's value.
const DECL = /font-family\s*:\s*((?:"[^"]*"|'[^']*'|[^;{}<>"'])+)/gi;

// The families a text of CSS or HTML declares with @font-face, and the
// Google Fonts families its links and @imports ask for: provided.
function provided(text, into) {
	for (const face of text.match(FACE) || []) {
		const m = /font-family\s*:\s*([^;}]+)/i.exec(face);
		if (m) for (const f of families(m[1])) into.add(f.toLowerCase());
	}
	for (const url of text.match(/https?:\/\/fonts\.googleapis\.com\/css2?\?[^"')\s]+/gi) || []) {
		const q = new URL(url.replace(/&amp;/g, '&')).searchParams;
		for (const fam of q.getAll('family').flatMap((v) => v.split('|'))) into.add(fam.split(':')[0].replace(/\+/g, ' ').trim().toLowerCase());
	}
}

// The project's HTML texts: the page and its sub-compositions
// (data-composition-src, relative to the project's root, where the
// runtime fetches them from), and its local stylesheets.
function projectTexts(root, pageRel) {
	const texts = [], seen = new Set();
	const read = (rel) => {
		const p = path.resolve(root, rel);
		if (seen.has(p) || seen.size > 200 || !p.startsWith(path.resolve(root) + path.sep)) return null;
		seen.add(p);
		try { return fs.readFileSync(p, 'utf8'); } catch { return null; }
	};
	const queue = [pageRel];
	while (queue.length) {
		const rel = queue.shift();
		const html = read(rel);
		if (html === null) continue;
		texts.push(html);
		for (const m of html.matchAll(/data-composition-src\s*=\s*["']([^"']+)["']/gi)) queue.push(m[1].split(/[?#]/)[0]);
		for (const m of html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']([^"']+\.css)(?:[?#][^"']*)?["'][^>]*>/gi)) {
			if (/^[a-z]+:|^\/\//i.test(m[1])) continue;
			const css = read(m[1].startsWith('/') ? m[1].slice(1) : path.join(path.dirname(rel), m[1]));
			if (css !== null) texts.push(css);
		}
	}
	return texts;
}

// The substitutions for a project: [{ family, font, weights, pkg }] —
// families it names in CSS that nothing of it provides, with a canonical
// font.  `dirs`: where @fontsource packages are installed.
export function fontAliases(root, pageRel, dirs) {
	const texts = projectTexts(root, pageRel);
	const have = new Set(), named = new Map();
	for (const t of texts) provided(t, have);
	for (const t of texts) {
		// style="" attributes apart: their quote ends the declaration.
		const attrs = [];
		const rest = t.replace(FACE, '').replace(/\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')/gi, (_, a, b) => { attrs.push(a ?? b); return ' '; });
		for (const css of [rest, ...attrs.map((a) => a.replace(/&quot;/g, '"').replace(/&#39;/g, "'"))]) {
			for (const m of css.matchAll(DECL)) {
				for (const f of families(m[1])) if (!named.has(f.toLowerCase())) named.set(f.toLowerCase(), f);
			}
		}
	}
	const out = [];
	for (const [key, family] of named) {
		const slug = ALIAS[key];
		if (!slug || have.has(key)) continue;
		const [font, weights] = CANONICAL[slug];
		const pkg = `@fontsource/${slug}`;
		const dir = dirs.map((d) => path.join(d, pkg)).find((d) => fs.existsSync(path.join(d, 'package.json')));
		out.push({ family, font, weights, pkg, slug, dir });
	}
	return out;
}

// The @font-face rules drawing each aliased family with its canonical
// font's bundled faces, at the URLs offline.mjs serves @fontsource files
// from (`base`: https://fonts.gstatic.com/fb-local/).
export function aliasCss(aliases, base) {
	const css = [];
	for (const a of aliases) {
		if (!a.dir) continue;
		for (const w of a.weights) {
			css.push(`@font-face{font-family:"${a.family.replace(/["\\]/g, '')}";` +
				`src:url("${base}${a.pkg}/files/${a.slug}-latin-${w}-normal.woff2") format("woff2");` +
				`font-style:normal;font-weight:${w};font-display:block;unicode-range:${LATIN}}`);
		}
	}
	return css.join('\n');
}

// The line said for each (once per render).
export function aliasWarning(a) {
	if (!a.dir) return `the font "${a.family}" is not available and ${a.pkg} (what hyperframes draws it with, ${a.font}) is not installed: the browser's fallback font draws it`;
	const what = a.family.toLowerCase() === a.font.toLowerCase() ? `named but not provided by the project (no @font-face, no stylesheet)`
		: 'not available';
	return `the font "${a.family}" is ${what}; drawn with ${a.font} (${a.pkg}, weights ${a.weights.join('/')}), as hyperframes renders it`;
}
