// html/worker.mjs — a framebroker producer that renders an HTML
// page with headless Chromium: one of the K workers of
//
//	fb-render --workers K --frame-format jpeg --source 'attach:node html/worker.mjs PAGE' -o out.mp4
//
// It attaches to the render that started it, opens PAGE (a file or a URL)
// once at the render's size, and for each claimed frame seeks the page to
// it, captures a screenshot in the render's --frame-format (jpeg or png)
// and decodes CDP's base64 straight into the claimed slot (Buffer.write:
// no intermediate Buffer), then publishes the image's exact length.
//
// Seeking (seek.mjs): window.fbSeek(frame, fps), the page's own hook, when
// it has one (it may return a Promise, awaited before the capture); else
// the virtual clock (clock.js, in the page before any of its scripts):
// timers, rAF, Date, performance.now, CSS/Web Animations, media and GSAP
// driven to exactly frame/fps, in any frame order, then a readiness wait
// (fonts, images, media, window.fbReady).  --seek auto|fbseek|clock forces
// one (virtual: the clock).
//
// Options: --quality Q (jpeg, default 90), --engine auto|shell|new (see
// chrome.mjs), --seek M, --seek-timeout SEC (default 30: a frame's seek or
// capture taking longer fails the render naming the page's hang; keep it
// below fb-render's --frame-timeout, which the worker cannot see, else the
// broker kills the worker first, and each replacement hangs the same way),
// --browser own|shared: own (the default) — a
// browser per worker over a pipe, nothing listening; shared — the K
// workers of the render share one browser, each in a BrowserContext of its
// own (its own renderer process): one browser and GPU process instead of K
// (measured K=2 1080p: 1.15x the frames/s, 110 MB less PSS), but through
// an unauthenticated DevTools port on 127.0.0.1 that any local user could
// drive while the render runs (chrome.mjs joinBrowser) — so opt-in, for
// machines without untrusted local users.
// Exit: 0 no frame left; 1 an error: the render is failed with it as the
// cause (fb_fail; fb-render says it, in one line: not us too); 3 the
// render was aborted elsewhere, or had failed already when we came to fail
// it (silent, as fb-producer's exit 3); 4 the page or browser crashed: the frame was given back, and fb-render starts a
// replacement worker (which joins the shared browser, or relaunches it if
// the browser died) — simpler and safer than recovering in-process:
// nothing of the dead renderer's state survives, and fb-render counts and
// bounds the restarts (--max-restarts).  SIGTERM/SIGINT/SIGHUP: the frame
// given back, our context closed and the browser left (closed by the last
// worker out), then the signal.  A page that navigates away (to another
// document, a reload) fails the render: "the page navigated away to URL".
// Dialogs (alert, confirm, prompt) are dismissed, the first one said; a
// beforeunload dialog is accepted (the page leaves: see above).
// Errors are one line, their stack only with FB_CHROME_DEBUG=1.
// Profiles and the shared rendezvous directory go under FB_TMPDIR
// (fb-render's per-render directory, removed after its last child: the
// backstop when a worker is SIGKILLed), else os.tmpdir(); the worker
// removes its own on every way out it lives to take.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchBrowser, closeBrowser, joinBrowser, leaveBrowser, openPage } from './chrome.mjs';
import { Seeker, SEEK_MODES } from './seek.mjs';
import { content, installContent, contentLoaded } from './content.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// The binding: FB_NODE_BINDING overrides (an installed copy); else the
// source tree's, which `make node` builds.
const binding = process.env.FB_NODE_BINDING ||
	pathToFileURL(path.join(here, '..', 'bindings', 'node', 'index.mjs')).href;
const { attach, RESTART_EXIT_CODE } = await import(binding);

const me = `worker.mjs[${process.pid}]`;
// One line each, whatever it quotes: a page's URLs, font names and dialog
// texts are the page's to choose, newlines and terminal escapes included.
const log = (msg) => process.stderr.write(`${me}: ${String(msg).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')}\n`);

function usage(msg) {
	log(`${msg}; usage: worker.mjs [--quality Q] [--engine auto|shell|new] [--browser own|shared] [--seek auto|fbseek|clock] [--seek-timeout SEC] [--root DIR] [--modules DIR]... [--hyperframes DIR] [--] PAGE`);
	process.exit(1);
}

function parseArgs(v) {
	const o = { quality: 90, engine: 'auto', browser: 'own', seek: null, seekTimeout: 30, page: null, root: null, modules: [], hyperframes: null };
	for (let i = 0; i < v.length; i++) {
		const a = v[i];
		if (a === '--quality') o.quality = Number(v[++i]);
		else if (a === '--engine') o.engine = v[++i];
		else if (a === '--seek') o.seek = v[++i];
		else if (a === '--browser') o.browser = v[++i];
		else if (a === '--seek-timeout') o.seekTimeout = Number(v[++i]);
		else if (a === '--root') o.root = v[++i];
		else if (a === '--modules') o.modules.push(v[++i]);
		else if (a === '--hyperframes') o.hyperframes = v[++i];
		else if (a === '--' && i === v.length - 2) o.page = v[++i]; // a PAGE named like an option
		else if (a.startsWith('--')) usage(`unknown option ${a}`);
		else if (o.page === null) o.page = a;
		else usage(`one page only (${o.page}, then ${a})`);
	}
	if (o.page === null && o.root === null) usage('no page given');
	if (!(o.quality >= 0 && o.quality <= 100)) usage(`--quality ${o.quality}: 0..100`);
	if (!['auto', 'shell', 'new'].includes(o.engine)) usage(`--engine ${o.engine}`);
	if (!['own', 'shared'].includes(o.browser)) usage(`--browser ${o.browser}: own or shared`);
	if (o.seek !== null && !SEEK_MODES.includes(o.seek)) usage(`--seek ${o.seek}: auto, fbseek or clock`);
	if (!(o.seekTimeout > 0 && o.seekTimeout <= 86400)) usage(`--seek-timeout ${o.seekTimeout}: seconds, 0 < SEC <= 86400`);
	return o;
}

// A crash of the page's renderer or of the browser: raised by every await
// racing against it.
class Crash extends Error {}
// The page left for another document (location.href = ..., a reload, a
// form): the frames would be another page's, so the render is failed.
class NavigatedAway extends Error {}
// A seek or capture that did not finish within --seek-timeout: the page
// hangs (a promise that never settles, an endless loop).  The render is
// failed naming it — left to fb-render's --frame-timeout, the worker was
// killed and each replacement hung on the same frame, unexplained, until
// --max-restarts ran out (11 minutes with the defaults).
class Hang extends Error {}

class Page {
	constructor(browser, geometry, cont, opts) {
		this.browser = browser;
		this.g = geometry;
		this.content = cont;
		this.url = cont.url;
		this.opts = opts;
		this.frame = null; // the frame being rendered
		this.dialogs = 0;
		// trouble: rejected, once, with the first Crash or NavigatedAway.
		let fault;
		this.trouble = new Promise((_, reject) => { fault = reject; });
		this.trouble.catch(() => {}); // observed by race()
		this.failure = null; // the same, synchronously (check())
		const raise = (e) => { this.failure ??= e; fault(e); };
		this.crash = (why) => raise(new Crash(why));
		this.navigatedAway = (to, note = '') => raise(new NavigatedAway(`the page navigated away to ${to.length > 160 ? `${to.slice(0, 160)}...` : to}${note}`));
		this.ownNavigation = true; // until open() has loaded the page
		browser.on('disconnected', () => this.crash('the browser went away'));
	}

	race(p) {
		return Promise.race([p, this.trouble]);
	}

	// race(p), and a Hang saying `what` did not finish within
	// --seek-timeout.
	bounded(p, what) {
		const s = this.opts.seekTimeout;
		let timer;
		const hang = new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Hang(`${what} did not finish within --seek-timeout ${s} s: the page hangs`)), s * 1000);
		});
		return Promise.race([this.race(p), hang]).finally(() => clearTimeout(timer));
	}

	// Throws the page's trouble if there was any by now.
	check() {
		if (this.failure) throw this.failure;
	}

	// goto(): a navigation of ours (the open, the clock's replays), not
	// the page leaving.
	async goto() {
		this.ownNavigation = true;
		try {
			await this.race(this.page.goto(this.url, { waitUntil: 'load' }));
		} finally {
			this.ownNavigation = false;
		}
	}

	async open() {
		// Our page (shared: in a context of our own), closing no other
		// worker's (chrome.mjs openPage).
		({ ctx: this.ctx, page: this.page } = await openPage(this.browser, { shared: this.opts.browser === 'shared' }));
		this.page.on('error', (e) => this.crash(`the page crashed (${e.message})`));
		// A dialog (alert, confirm, prompt) would block the page's script,
		// so the seek, until --seek-timeout: dismissed (confirm false,
		// prompt null), said once.  A beforeunload one is accepted: the
		// page then leaves, and the render fails naming where it went.
		this.page.on('dialog', (d) => this.dialog(d));
		// A window the page opens (said by serve.mjs; it reaches no
		// network anyway): closed, not left to run beside the render.
		this.page.on('popup', (w) => { if (w) w.close().catch(() => {}); });
		await this.page.setViewport({ width: this.g.width, height: this.g.height, deviceScaleFactor: 1 });
		this.s = await this.page.createCDPSession();
		this.s.on('Inspector.targetCrashed', () => this.crash('the page\'s renderer crashed'));
		this.s.on('CDPSession.Disconnected', () => this.crash('the page\'s session was closed'));
		// A main-frame document committed that we did not ask for
		// (Page.frameNavigated is cross-document only: a hash change or
		// pushState is not one).
		// A URL that failed to load commits Chrome's error page
		// (chrome-error://chromewebdata/): the frame's unreachableUrl names
		// the one the page tried.
		this.s.on('Page.frameNavigated', ({ frame }) => {
			if (frame.parentId || this.ownNavigation) return;
			if (frame.unreachableUrl) this.navigatedAway(frame.unreachableUrl, ' (which did not load)');
			else this.navigatedAway(frame.url + (frame.urlFragment || ''));
		});
		await this.s.send('Inspector.enable');
		await this.s.send('Page.enable');
		this.seeker = new Seeker(this, { log: debug ? log : null });
		await this.seeker.install(); // before the page's first script
		// The project's files, CDN and font URLs answered by us (serve.mjs,
		// offline.mjs), a hyperframes project's runtime injected.
		await installContent(this.s, this.content, log);
		await this.goto();
		await contentLoaded(this.page, this.content, this.opts.seekTimeout * 1000);
		await this.seeker.choose();
	}

	dialog(d) {
		const leaving = d.type() === 'beforeunload';
		(leaving ? d.accept() : d.dismiss()).catch(() => {});
		if (leaving || this.dialogs++) return;
		const m = d.message().replace(/\s+/g, ' ');
		log(`the page opened a dialog (${d.type()} ${JSON.stringify(m.length > 80 ? `${m.slice(0, 80)}...` : m)})` +
			`${this.frame === null ? ' while opening' : ` at frame ${this.frame}`}; dismissed (and any more, silently)`);
	}

	async seek(frame) {
		this.frame = frame;
		await this.seeker.seek(frame);
	}

	// The screenshot's base64, in the render's format.
	async capture() {
		const fmt = this.g.frameFormat;
		const opts = fmt === 'jpeg'
			? { format: 'jpeg', quality: this.opts.quality, optimizeForSpeed: true }
			: { format: 'png', optimizeForSpeed: true };
		const r = await this.bounded(this.s.send('Page.captureScreenshot', opts), `frame ${this.frame}: the capture`);
		return r.data;
	}
}

// An error of ours (puppeteer, the binding, a bug): its message alone,
// one line; with FB_CHROME_DEBUG=1 its stack is logged too, apart.
const debug = !!process.env.FB_CHROME_DEBUG;
const what = (e) => {
	if (debug && e && e.stack) log(e.stack);
	return (e && e.message) || String(e);
};
// Waiting for leave() to exit: a timer keeps the process up meanwhile.
const forever = () => new Promise(() => { setInterval(() => {}, 1 << 30); });
const cap = (ms) => new Promise((r) => setTimeout(r, ms).unref());

async function main() {
	const opts = parseArgs(process.argv.slice(2));
	let p = null, page = null, browser = null, ending = false, opening = null;

	// Every way out goes through here, once: the frame given back (if
	// held), our context closed and the browser left (shared) or closed
	// and its profile removed (own), detached, then the status (or the
	// signal).  Whatever called it second waits for the exit, silent: the
	// main loop, say, whose page goes away under it after a SIGTERM.
	async function leave(status, signal) {
		if (ending) return forever();
		ending = true;
		if (debug) log(`leaving: ${signal || `exit ${status}`}`);
		if (p) {
			// ECANCELED: the render was aborted meanwhile; the frame is
			// nobody's to give back.
			try { if (p.claimedFrame !== null) p.abortClaim(); } catch (e) { if (e.code !== 'ECANCELED') quiet(e); }
			try { p.detach(); } catch (e) { quiet(e); }
		}
		// A browser still starting (a signal during the launch): waited
		// for, to be closed like any.
		if (!browser && opening) browser = await Promise.race([opening.catch(() => null), cap(15000)]);
		try {
			if (opts.browser === 'shared') {
				// Our context closed (its renderer with it), then left: the
				// last worker out ends the browser.
				if (page && page.ctx) await Promise.race([page.ctx.close().catch(() => {}), cap(2000)]);
				await leaveBrowser(browser);
			} else {
				await closeBrowser(browser);
			}
		} catch (e) {
			// Said only when nothing else was: a render that failed has
			// its one line already.
			if (status === 0) log(`leaving the browser: ${what(e)}`);
			else quiet(e);
		}
		if (signal) {
			process.removeAllListeners(signal);
			process.kill(process.pid, signal);
			await cap(1000);
		}
		process.exit(status);
	}
	function quiet(e) { if (debug) log(`(leaving) ${what(e)}`); }
	// The main flow's word: none once leaving (a SIGTERM met it halfway,
	// its page going away under it is no news).
	const say = (msg) => { if (!ending) log(msg); };
	for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
		process.on(sig, () => { leave(1, sig); });
	// Anything not caught below (a bug, an event handler's throw): one
	// line, the render failed, the same way out.
	process.on('uncaughtException', (e) => { failRender(what(e)); });
	process.on('unhandledRejection', (e) => { failRender(what(e)); });

	// failRender(reason): fail the whole render.  fb-render says the cause
	// (once: so not us too) when it ends; we wait (up to 3 s) for it to end
	// us — exiting at once raced fb-render's report: about one run in ten
	// it exited 1 without printing the cause.  The render ended already
	// (aborted elsewhere, another worker's failure first): exit 3, silent.
	async function failRender(reason) {
		if (ending) return forever();
		if (!p) {
			log(reason);
			return leave(1);
		}
		let first;
		try {
			first = p.fail(`worker.mjs: ${reason}`);
		} catch (e) {
			log(`${reason} (and fail: ${e.message})`);
			return leave(1);
		}
		if (!first) return leave(3);
		await new Promise((r) => setTimeout(r, 3000));
		return leave(1);
	}

	try {
		p = await attach();
	} catch (e) {
		log(`attach: ${e.message}`);
		process.exit(1);
	}
	const g = p.geometry;
	// What is served and how (a one-line error: a missing file, a
	// hyperframes project without its package).
	let cont;
	try {
		cont = content(opts, g.fpsNum / g.fpsDen);
	} catch (e) {
		return failRender(e.message);
	}
	if (g.frameFormat !== 'jpeg' && g.frameFormat !== 'png') {
		await failRender(`frame format ${g.frameFormat}: a Chrome worker writes images; use --frame-format jpeg or png`);
	}

	// An error followed within a second by the page's trouble is that
	// trouble: a dead browser can first show as another error (over a
	// websocket, "Attempted to use detached Frame" comes before
	// 'disconnected'), a page navigating away as "Execution context was
	// destroyed".
	async function cause(e) {
		if (e instanceof Crash || e instanceof NavigatedAway || e instanceof Hang || !page || e.code === 'ECANCELED') return e;
		const late = await Promise.race([page.trouble.catch((c) => c), cap(1000).then(() => null)]);
		return late || e;
	}

	try {
		// Only a URL page's own origin is reached over the network.
		const bopts = { engine: opts.engine, netHosts: cont.origin ? [new URL(cont.origin).host] : [] };
		opening = opts.browser === 'shared' ? joinBrowser(bopts) : launchBrowser(bopts);
		browser = await opening;
		if (ending) return forever();
		page = new Page(browser, g, cont, opts);
		await page.open();
	} catch (e0) {
		if (ending) return forever();
		const e = await cause(e0);
		if (e instanceof Crash) {
			say(`${e.message} while opening ${opts.page}; exit ${RESTART_EXIT_CODE} (restart me)`);
			return leave(RESTART_EXIT_CODE);
		}
		// A page that does not load is the render's failure, not a crash.
		return failRender(e instanceof NavigatedAway ? e.message : `cannot open ${opts.page}: ${what(e)}`);
	}

	try {
		for (;;) {
			const c = await p.claim();
			if (c === null) break;
			await page.seek(c.frame);
			const b64 = await page.capture();
			page.check(); // a navigation seen by now: this frame may be the new page's
			const n = Buffer.byteLength(b64, 'base64');
			if (n > g.slotBytes) {
				return failRender(`frame ${c.frame}: the ${g.frameFormat} image is ${n} bytes, ` +
					`more than a slot's ${g.slotBytes} (raise --slot-bytes)`);
			}
			// Decoded from base64 straight into the slot: the one copy.
			const w = c.data.write(b64, 0, 'base64');
			p.publish(w);
		}
	} catch (e0) {
		if (ending) return forever();
		const e = await cause(e0);
		if (e instanceof Crash) {
			say(`${e.message}; frame ${p.claimedFrame} given back; exit ${RESTART_EXIT_CODE} (restart me)`);
			return leave(RESTART_EXIT_CODE);
		}
		if (e.code === 'ECANCELED') return leave(3); // the render was aborted: nothing to say
		return failRender(e instanceof NavigatedAway ? e.message : what(e));
	}
	return leave(0);
}

main().catch((e) => { log(what(e)); process.exit(1); });
