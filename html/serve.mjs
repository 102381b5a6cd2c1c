// html/serve.mjs — the page's files served without a server: CDP Fetch
// interception on the worker's page answers every request itself.
//
// A project directory is served at https://fb-html.invalid/ (ORIGIN), so
// root-relative paths (/assets/x.png) and the files a page fetches at run
// time (hyperframes' sub-compositions) resolve as on a web server, which
// file:// URLs do not.  Nothing listens: no port another local user could
// reach, no process to clean up.  Requests to other hosts go to the
// handlers given (offline.mjs: CDN and font URLs from local packages), and
// what none answers is aborted, said once (warnOnce).
//
// Path validation: the URL path is decoded, resolved under the root and
// refused (403) if the real path (symlinks followed) is outside it, or is
// not a regular file; a missing file is a 404.  Each said once per URL.
// Media need byte ranges (<video> seeks by Range requests): 206 answers,
// an open range capped at RANGE_CAP bytes so one CDP message never carries
// a whole film in base64.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const HOST = 'fb-html.invalid';
export const ORIGIN = `https://${HOST}`;
const RANGE_CAP = 8 << 20;

const TYPES = {
	'.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8',
	'.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
	'.mjs': 'text/javascript; charset=utf-8', '.cjs': 'text/javascript; charset=utf-8',
	'.json': 'application/json; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
	'.xml': 'application/xml', '.svg': 'image/svg+xml', '.png': 'image/png',
	'.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
	'.avif': 'image/avif', '.ico': 'image/vnd.microsoft.icon', '.bmp': 'image/bmp',
	'.mp4': 'video/mp4', '.m4v': 'video/mp4', '.mov': 'video/quicktime', '.webm': 'video/webm',
	'.ogv': 'video/ogg', '.mp3': 'audio/mpeg', '.wav': 'audio/wav', '.ogg': 'audio/ogg',
	'.oga': 'audio/ogg', '.aac': 'audio/aac', '.flac': 'audio/flac', '.m4a': 'audio/mp4',
	'.opus': 'audio/ogg', '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf',
	'.otf': 'font/otf', '.wasm': 'application/wasm', '.vtt': 'text/vtt; charset=utf-8',
	'.srt': 'text/plain; charset=utf-8', '.cube': 'text/plain; charset=utf-8',
};
export const contentType = (file) => TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';

// One line per distinct message.  The K workers of a render each load the
// page, so each would say it: with fb-render's FB_TMPDIR, the first to
// create the message's marker file (O_EXCL) says it, the others not.
const said = new Set();
export function warnOnce(log, msg) {
	if (said.has(msg)) return;
	said.add(msg);
	const dir = process.env.FB_TMPDIR;
	if (dir) {
		const mark = path.join(dir, `fb-html-said.${crypto.createHash('sha1').update(msg).digest('hex').slice(0, 20)}`);
		try {
			fs.closeSync(fs.openSync(mark, 'wx', 0o600));
		} catch (e) {
			if (e.code === 'EEXIST') return;
		}
	}
	log(msg);
}

// The real path of `rel` (a decoded URL path) under `root` (a real path),
// or why not: { file } | { status, why }.
export function resolveUnder(root, rel) {
	if (rel.includes('\0')) return { status: 400, why: 'a NUL in the path' };
	const p = path.resolve(root, `.${path.posix.sep}${rel}`);
	let real;
	try {
		real = fs.realpathSync(p);
	} catch (e) {
		if (e.code === 'ENOENT' || e.code === 'ENOTDIR') {
			// Missing — unless the missing path is outside anyway.
			return inside(root, p) ? { status: 404, why: 'not found' } : { status: 403, why: 'outside the served root' };
		}
		return { status: 403, why: e.code || e.message };
	}
	if (!inside(root, real)) return { status: 403, why: 'outside the served root' };
	let st;
	try { st = fs.statSync(real); } catch (e) { return { status: 404, why: e.code }; }
	if (!st.isFile()) return { status: st.isDirectory() ? 404 : 403, why: 'not a regular file' };
	return { file: real, size: st.size };
}
const inside = (root, p) => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

// { status, headers, body } for a regular file, honouring one byte range.
export function fileResponse(file, size, range, extraHeaders = {}) {
	const headers = { 'Content-Type': contentType(file), 'Accept-Ranges': 'bytes',
		'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache', ...extraHeaders };
	const r = parseRange(range, size);
	if (r === 'bad') return { status: 416, headers: { ...headers, 'Content-Range': `bytes */${size}` }, body: Buffer.alloc(0) };
	const start = r ? r.start : 0;
	const end = r ? r.end : size - 1;
	const body = readSlice(file, start, end - start + 1);
	if (r) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
	return { status: r ? 206 : 200, headers, body };
}

function readSlice(file, start, n) {
	const fd = fs.openSync(file, 'r');
	try {
		const b = Buffer.alloc(Math.max(0, n));
		let got = 0;
		while (got < n) {
			const k = fs.readSync(fd, b, got, n - got, start + got);
			if (k === 0) break;
			got += k;
		}
		return b.subarray(0, got);
	} finally {
		fs.closeSync(fd);
	}
}

// "bytes=A-B", "bytes=A-", "bytes=-N": {start, end}; none or several
// ranges: null (the whole file); unsatisfiable: 'bad'.
export function parseRange(h, size) {
	const m = h && /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(h);
	if (!m || (m[1] === '' && m[2] === '')) return null;
	let start, end;
	if (m[1] === '') {
		const n = Number(m[2]);
		if (n === 0 || size === 0) return 'bad';
		start = Math.max(0, size - n);
		end = size - 1;
	} else {
		start = Number(m[1]);
		end = m[2] === '' ? Math.min(size - 1, start + RANGE_CAP - 1) : Math.min(Number(m[2]), size - 1);
		if (start >= size || end < start) return 'bad';
	}
	return { start, end };
}

const header = (headers, name) => {
	for (const [k, v] of Object.entries(headers || {})) if (k.toLowerCase() === name) return v;
	return undefined;
};

// Interception on a page's CDP session.  opts: root (the served
// directory), handlers (async (url, request) -> response | null, tried in
// order for other hosts), html (rel, text) -> text (a transform of the
// served HTML files: hyperframes' injection), passThrough (url) -> bool
// (the page's own origin when PAGE is a URL), log (one line).
export async function intercept(session, opts) {
	const root = opts.root ? fs.realpathSync(opts.root) : null;
	const log = opts.log;
	const answer = async (requestId, { status, headers, body }) => {
		await session.send('Fetch.fulfillRequest', {
			requestId, responseCode: status,
			responseHeaders: Object.entries(headers).map(([name, value]) => ({ name, value: String(value) })),
			body: Buffer.from(body).toString('base64'),
		});
	};
	const notServed = (status, why) => ({ status, headers: { 'Content-Type': 'text/plain', 'Access-Control-Allow-Origin': '*' }, body: Buffer.from(`${status} ${why}\n`) });

	async function local(u, req) {
		if (!root) return notServed(404, 'no root');
		let rel;
		try {
			rel = decodeURIComponent(u.pathname);
		} catch {
			warnOnce(log, `${u.href}: refused (a malformed %-escape)`);
			return notServed(400, 'malformed');
		}
		if (rel.endsWith('/')) rel += 'index.html';
		const r = resolveUnder(root, rel);
		if (!r.file) {
			if (!/\/favicon\.ico$/.test(rel)) warnOnce(log, `${u.pathname}: ${r.status === 404 ? 'not found' : `refused (${r.why})`} under ${root}`);
			return notServed(r.status, r.why);
		}
		if (opts.html && /\.html?$/i.test(r.file)) {
			const text = opts.html(path.relative(root, r.file), fs.readFileSync(r.file, 'utf8'));
			return { status: 200, headers: { 'Content-Type': contentType(r.file), 'Cache-Control': 'no-cache' }, body: Buffer.from(text) };
		}
		return fileResponse(r.file, r.size, header(req.headers, 'range'));
	}

	async function handle({ requestId, request, resourceType, frameId }) {
		const u = new URL(request.url);
		if (opts.passThrough?.(u)) return session.send('Fetch.continueRequest', { requestId });
		if (u.hostname === HOST) return answer(requestId, await local(u, request));
		// The page itself leaving for elsewhere: the worker fails the
		// render naming where (worker.mjs NavigatedAway); not said twice.
		if (resourceType === 'Document' && frameId === mainFrame) return session.send('Fetch.failRequest', { requestId, errorReason: 'BlockedByClient' });
		for (const h of opts.handlers || []) {
			const res = await h(u, request);
			if (res === 'abort') break;
			if (res) return answer(requestId, res);
		}
		return session.send('Fetch.failRequest', { requestId, errorReason: 'BlockedByClient' });
	}

	const mainFrame = (await session.send('Page.getFrameTree')).frameTree.frame.id;
	session.on('Fetch.requestPaused', (ev) => {
		handle(ev).catch((e) => {
			// The page may be gone (a reload, the end): nothing to answer.
			if (!/Invalid InterceptionId|Target closed|Session closed/i.test(e.message)) warnOnce(log, `${ev.request.url}: ${e.message}`);
			session.send('Fetch.failRequest', { requestId: ev.requestId, errorReason: 'Failed' }).catch(() => {});
		});
	});
	// What Fetch never sees: a window the page opens and a WebSocket.
	// Neither gets anywhere (chrome.mjs: new windows blocked, every
	// connection through a proxy that does not exist); each is said.
	session.on('Page.windowOpen', ({ url }) => warnOnce(log, `${url || 'about:blank'}: not loaded (a window the page opened)`));
	session.on('Network.webSocketCreated', ({ url }) => warnOnce(log, `${url}: not loaded (a WebSocket)`));
	await session.send('Network.enable');
	await session.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
}

// The served root and URL of a PAGE argument: a URL stays itself; a file
// inside --root DIR is served under DIR; a file alone under its own
// directory.  Throws a one-line Error.
export function pageLocation(page, rootOpt) {
	if (/^[a-z][a-z0-9+.-]*:/i.test(page) && !/^file:/i.test(page)) return { root: rootOpt ? path.resolve(rootOpt) : null, url: page };
	if (rootOpt) {
		const root = fs.realpathSync(path.resolve(rootOpt));
		const rel = page || 'index.html';
		const r = resolveUnder(root, rel);
		if (!r.file) throw new Error(`${rel}: ${r.status === 404 ? 'not found' : r.why} in --root ${rootOpt}`);
		return { root, url: `${ORIGIN}/${path.relative(root, r.file).split(path.sep).map(encodeURIComponent).join('/')}` };
	}
	const file = fs.realpathSync(/^file:/i.test(page) ? fileURLToPath(page) : path.resolve(page));
	return { root: path.dirname(file), url: `${ORIGIN}/${encodeURIComponent(path.basename(file))}` };
}
