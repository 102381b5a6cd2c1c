// html/content.mjs — what the worker's page is and how it is fed: the
// glue between worker.mjs and serve.mjs (the project's files),
// offline.mjs (CDN and font URLs from local packages) and hyperframes.mjs
// (a hyperframes project's runtime), so the worker's own hunks stay small.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORIGIN, intercept, pageLocation, warnOnce } from './serve.mjs';
import { offlineHandler, LOCAL_FONT_BASE } from './offline.mjs';
import { fontAliases, aliasCss, aliasWarning } from './fontalias.mjs';
import { isProject, findRuntime, htmlTransform, runtimeHandler, waitLoaded } from './hyperframes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// The page's content from the worker's options: { url, root, pageRel,
// runtime (a hyperframes project's), modules, fps }.  Throws one line.
export function content(opts, fps) {
	if (opts.page === null) opts.page = 'index.html';
	const { root, url } = pageLocation(opts.page, opts.root);
	const c = { url, root, pageRel: null, runtime: null, modules: opts.modules, fps, origin: null, fonts: [] };
	if (!url.startsWith(`${ORIGIN}/`)) {
		c.origin = new URL(url).origin; // a URL page: its own origin is fetched as is
		return c;
	}
	c.pageRel = decodeURIComponent(new URL(url).pathname.slice(1));
	const html = fs.readFileSync(path.join(root, c.pageRel), 'utf8');
	if (/\.html?$/i.test(c.pageRel) && isProject(html)) {
		// --hyperframes DIR, else a hyperframes installed beside us or in
		// a --modules DIR.
		const dirs = [...opts.modules, path.join(here, 'node_modules')].map((d) => path.join(d, 'hyperframes'));
		const dir = opts.hyperframes || dirs.find((d) => fs.existsSync(path.join(d, 'package.json'))) || null;
		const project = opts.root || path.dirname(opts.page);
		c.runtime = findRuntime(dir, project);
		// The families hyperframes would draw with its bundled fonts.
		c.fonts = fontAliases(root, c.pageRel, [...opts.modules.map((d) => path.resolve(d)), path.join(here, 'node_modules')]);
	}
	return c;
}

// Interception on the page's CDP session, before its first load.
export async function installContent(session, c, log) {
	for (const a of c.fonts) warnOnce(log, aliasWarning(a));
	const handlers = [];
	if (c.runtime) handlers.push(runtimeHandler(c.runtime));
	handlers.push(offlineHandler({ modules: c.modules, log }));
	await intercept(session, {
		root: c.root, handlers, log,
		html: c.runtime ? htmlTransform(c.runtime, c.pageRel, c.fps, aliasCss(c.fonts, LOCAL_FONT_BASE)) : null,
		passThrough: c.origin ? (u) => u.origin === c.origin : null,
	});
}

// After the load: a hyperframes page waits for its runtime (its adapter
// is registered with the page's clock, which seeks it).
export async function contentLoaded(page, c, ms) {
	if (c.runtime) await waitLoaded(page, ms, c.runtime.globals);
}
