// html/hyperframes.mjs — a hyperframes project rendered as `hyperframes
// render` renders it: the page gets hyperframes' runtime (clip visibility,
// sub-compositions, captions are the runtime's work, not GSAP's), and each
// frame is sought through the runtime's player.
//
// The runtime comes from the installed npm package `hyperframes` (--hyperframes
// DIR, the package directory), found ONLY through its published, stably
// named files: dist/hyperframe.manifest.json -> artifacts.iife (the
// runtime, checked against the manifest's sha256) and contract.globals
// (the names of __player, __renderReady ...).  Never a hash-named chunk:
// those change with every release.
//
// What `hyperframes render` does to the page (read from its file server;
// none of its code is loaded here): render capture mode on
// (globalThis.__HF_RENDER_CAPTURE_MODE), the render's seek configuration
// (fps), the runtime before </head>, then per frame
// __player.renderSeek(t) once __renderReady.  Its virtual time shim is the
// clock's (clock.js); its GSAP tween-batching stub only speeds up building.
//
// In the page the adapter registers with the clock
// (window.__fbClock.register({seek, ready, ownsTimelines: true}), clock.js:
// installed before any page script, so it is there); window.__fbHyperframes
// is the same adapter, for waitLoaded().
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { fileResponse } from './serve.mjs';

export const RUNTIME_HOST = 'fb-hyperframes.invalid';
const MIN_VERSION = [0, 9];

// Is the page (HTML text) a hyperframes project's composition?
export const isProject = (html) => /\sdata-composition-id\s*=/.test(html);

// The runtime of the package at `dir`: { version, iife, globals }, or
// throws one line saying what is missing.  `project` names the project.
export function findRuntime(dir, project) {
	const need = `${project} is a hyperframes project; its runtime needs the npm package hyperframes (>= ${MIN_VERSION.join('.')})`;
	if (!dir) throw new Error(`${need}: give its directory with --hyperframes DIR`);
	let pkg, manifest;
	try {
		pkg = JSON.parse(readRegular(path.join(dir, 'package.json'), 1 << 20));
	} catch {
		throw new Error(`${need}: not found in ${dir}`);
	}
	const v = String(pkg.version || '').split('.').map(Number);
	if (pkg.name !== 'hyperframes' || !(v[0] > MIN_VERSION[0] || (v[0] === MIN_VERSION[0] && v[1] >= MIN_VERSION[1]))) {
		throw new Error(`${need}: ${dir} holds ${pkg.name} ${pkg.version}`);
	}
	const mpath = path.join(dir, 'dist', 'hyperframe.manifest.json');
	try {
		manifest = JSON.parse(readRegular(mpath, 1 << 20));
	} catch (e) {
		throw new Error(`${need}: hyperframes ${pkg.version} in ${dir} has no readable ${path.relative(dir, mpath)} (${e.code || e.message})`);
	}
	const iifeName = manifest.artifacts?.iife;
	const globals = manifest.contract?.globals;
	if (typeof iifeName !== 'string' || !globals?.player || !globals?.renderReady) {
		throw new Error(`${need}: ${mpath} names no artifacts.iife or contract.globals player/renderReady`);
	}
	const iife = path.join(dir, 'dist', path.basename(iifeName));
	let body;
	try { body = readRegular(iife, 64 << 20, null); } catch (e) { throw new Error(`${need}: its runtime ${iife}: ${e.code || e.message}`); }
	if (manifest.sha256) {
		const got = crypto.createHash('sha256').update(body).digest('hex');
		if (got !== manifest.sha256) throw new Error(`${iife}: sha256 ${got}, not the manifest's ${manifest.sha256}`);
	}
	return { version: pkg.version, iife, size: body.length, globals };
}

// A regular file's content, at most `max` bytes (the package is input: a
// FIFO there would block the worker, /dev/zero fill its memory).
function readRegular(file, max, encoding = 'utf8') {
	const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
	try {
		const st = fs.fstatSync(fd);
		if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
		if (st.size > max) throw Object.assign(new Error(`larger than ${max} bytes`), { code: `larger than ${max} bytes` });
		const b = fs.readFileSync(fd);
		return encoding ? b.toString(encoding) : b;
	} finally {
		fs.closeSync(fd);
	}
}

// The render-mode settings hyperframes' file server gives the runtime:
// its renderSeek reads the fps from it (frame-quantised seeks) and
// media preseeking is off in a render.  Not in the manifest's contract:
// without it the runtime falls back to the root's data-fps.
function renderConfig(fps) {
	return { mode: 'preview-phase', diagnostics: false, step: 1 / 120, offsetFraction: 0.5,
		fps, fpsSource: 'render-options', owner: 'runtime' };
}

// The page's adapter, run in the page after the runtime.
function adapterInPage(g) {
	const adapter = {
		ownsTimelines: true,
		seek(t) {
			const p = window[g.player];
			if (p && typeof p.renderSeek === 'function') p.renderSeek(t);
		},
		// The runtime's own wait for seeks it left pending (media, late
		// images), when it has one; then fonts.
		async ready() {
			if (typeof window.__hfWaitForSeekCompletion === 'function') await window.__hfWaitForSeekCompletion();
			await document.fonts.ready;
		},
		// Ready to render: the runtime bound its timeline.
		loaded: () => window[g.renderReady] === true && !!window[g.player] && typeof window[g.player].renderSeek === 'function',
	};
	window.__fbHyperframes = adapter;
	if (window.__fbClock) window.__fbClock.register(adapter);
	else (window.__fbClockQueue = window.__fbClockQueue || []).push(adapter); // clock.js takes it at its start
}

const inline = (js) => `<script>${js.replace(/<\/script/gi, '<\\/script')}</script>`;

// hyperframes' compiler puts this first in the head of what it renders:
// glyph positions unrounded (geometricPrecision), so text is laid out at
// its exact width, not the hinted one (measurably narrower lines).  A
// low-priority rule (first, universal selector): the project's own
// text-rendering still wins.
const TEXT_RENDERING = '<style data-hyperframes-text-rendering="true">html,body,*{text-rendering:geometricPrecision}</style>';

// The HTML transform (serve.mjs intercept's html) for the composition
// rendered: the text-rendering rule, capture mode and the render's config
// at the head's start; `fontCss` (fontalias.mjs: the families hyperframes
// would draw with its bundled fonts), the runtime and our adapter before
// </head>.  Other HTML files (the sub-compositions the runtime fetches)
// are served as they are: the runtime mounts them into this document (not
// in frames), so the head's rules cover them, as in hyperframes' compiled
// page where they are inlined.
export function htmlTransform(runtime, pageRel, fps, fontCss = '') {
	const early = TEXT_RENDERING +
		inline(`globalThis.__HF_RENDER_CAPTURE_MODE = true; window.__HF_EXPORT_RENDER_SEEK_CONFIG = ${JSON.stringify(renderConfig(fps))};`);
	const late = (fontCss ? `<style data-fb-font-aliases>${fontCss.replace(/<\/style/gi, '')}</style>` : '') +
		`<script src="https://${RUNTIME_HOST}/${path.basename(runtime.iife)}"></script>` +
		inline(`(${adapterInPage.toString()})(${JSON.stringify(runtime.globals)});`);
	return (rel, html) => {
		if (rel !== pageRel) return html;
		const head = /<head(\s[^>]*)?>/i.exec(html);
		html = head ? html.slice(0, head.index + head[0].length) + early + html.slice(head.index + head[0].length) : early + html;
		const close = html.search(/<\/head\s*>/i);
		return close >= 0 ? html.slice(0, close) + late + html.slice(close) : html.replace(/<body/i, `${late}<body`);
	};
}

// The interception handler serving the runtime file.
export function runtimeHandler(runtime) {
	return async (u) => {
		if (u.hostname !== RUNTIME_HOST) return null;
		if (u.pathname !== `/${path.basename(runtime.iife)}`) return { status: 404, headers: {}, body: Buffer.alloc(0) };
		return fileResponse(runtime.iife, runtime.size);
	};
}

// After the load: wait (bounded by `ms`) until the runtime is ready to
// render; throws one line saying what it was waiting for.
export async function waitLoaded(page, ms, globals) {
	// Polled from here: puppeteer's waitForFunction polls with the page's
	// own setInterval, which is the clock's (clock.js): virtual, standing
	// still until the first seek, so it looked once and then timed out.
	const deadline = Date.now() + ms;
	let last = null;
	for (;;) {
		try {
			if (await page.evaluate(() => !!window.__fbHyperframes?.loaded())) return;
			last = null;
		} catch (e) {
			last = e;
		}
		if (Date.now() >= deadline) break;
		await new Promise((r) => setTimeout(r, 50));
	}
	const st = await page.evaluate((g) => ({ player: !!window[g.player], seek: typeof window[g.player]?.renderSeek,
		ready: window[g.renderReady] }), globals).catch(() => null);
	throw new Error(`the hyperframes runtime did not become ready within ${ms / 1000} s` +
		(st ? ` (window.${globals.player} ${st.player ? `present, renderSeek ${st.seek}` : 'absent'}, ${globals.renderReady} ${st.ready})` : '') +
		(last ? `: ${last.message}` : ''));
}

// `node hyperframes.mjs --check DIR PROJECT`: fb-html's check before it
// starts anything (the same findRuntime, not a copy in Python): exit 0,
// or 2 with the one line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--check') {
	try {
		findRuntime(process.argv[3] || null, process.argv[4] || '.');
	} catch (e) {
		process.stderr.write(`${e.message}\n`);
		process.exit(2);
	}
}
