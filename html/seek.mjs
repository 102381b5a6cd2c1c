// html/seek.mjs — how worker.mjs moves its page to a frame: the Node side
// of the virtual clock (clock.js, run in the page).
//
// install() puts clock.js in every document the page loads, before any of
// the page's scripts (evaluateOnNewDocument: the page's first Date.now()
// is already virtual); choose(), once the page has loaded, picks the seek
// method: the page's own window.fbSeek(frame, fps) when it has one
// (--seek auto, the default, or fbseek; the clock is then released and the
// page runs on real time, as it was written for), else the clock
// (--seek clock; `virtual` is the same, the name of what it replaced:
// Chrome's virtual time, which timed out on navigation).  seek(frame)
// then runs the method under the worker's --seek-timeout (Page.bounded):
// the clock moves the page to frame/fps and waits for it to be ready
// (fonts, images, media seeks, adapters, window.fbReady); a hang names
// what it was waiting for.  When the clock says 'reload' (a seek backward
// on a page with a history: see clock.js) the page is reloaded and
// replayed from 0.
import fs from 'node:fs';

const clockSource = fs.readFileSync(new URL('./clock.js', import.meta.url), 'utf8');

export const SEEK_MODES = ['auto', 'fbseek', 'clock', 'virtual'];

// In the page: release the clock for a page that seeks itself.
function chooseInPage(mode) {
	const hook = typeof window.fbSeek === 'function';
	if (mode === 'fbseek' && !hook) return 'nohook';
	if (mode === 'fbseek' || (mode === 'auto' && hook)) {
		if (window.__fbClock) window.__fbClock.release();
		return 'fbseek';
	}
	return window.__fbClock ? 'clock' : 'noclock';
}

export class Seeker {
	// page: the worker's Page (its puppeteer page, g, opts, bounded, goto);
	// log: a line to stderr, used only when debug (a line per seek, its ms).
	constructor(page, { log = null } = {}) {
		this.P = page;
		this.log = log;
		this.how = null;
		this.reloads = 0;
	}

	async install() {
		await this.P.page.evaluateOnNewDocument(clockSource);
	}

	async choose() {
		const mode = this.P.opts.seek || 'auto';
		const how = await this.P.bounded(this.P.page.evaluate(chooseInPage, mode === 'virtual' ? 'clock' : mode),
			'the page\'s script (finding its seek method)');
		if (how === 'nohook') throw new Error('--seek fbseek: the page has no window.fbSeek(frame, fps)');
		if (how === 'noclock') throw new Error('the clock is not in the page (not an HTML document?)');
		this.how = how;
		return how;
	}

	async seek(frame) {
		const P = this.P, { fpsNum: n, fpsDen: d } = P.g, fps = n / d;
		const t0 = this.log ? performance.now() : 0;
		if (this.how === 'fbseek') {
			await P.bounded(P.page.evaluate((f, r) => window.fbSeek(f, r), frame, fps), `frame ${frame}: window.fbSeek(${frame}, ${fps})`);
		} else if (await this.clock(frame, n, d) === 'reload') {
			// Backward on a page with a history: replayed from 0 (rare: a
			// worker's claims increase; a frame given back comes here).
			this.reloads++;
			await P.goto();
			if (await this.clock(frame, n, d) === 'reload') throw new Error(`frame ${frame}: the clock asked for a reload right after one`);
		}
		if (this.log) this.log(`frame ${frame}: seek ${this.how} ${(performance.now() - t0).toFixed(1)} ms${this.reloads ? ` (${this.reloads} reloads so far)` : ''}`);
	}

	async clock(frame, n, d) {
		const P = this.P, t = (frame * d / n).toFixed(3);
		try {
			return await P.bounded(P.page.evaluate((f, a, b) => window.__fbClock.seek(f, a, b), frame, n, d),
				`frame ${frame}: seeking to ${t} s (clock)`);
		} catch (e) {
			// The worker's Hang: say what the page was waiting for, if it can
			// still answer (an endless loop cannot: 1 s).
			if (e && e.constructor && e.constructor.name === 'Hang') {
				const w = await Promise.race([
					P.page.evaluate(() => window.__fbClock && window.__fbClock.waiting).catch(() => null),
					new Promise((r) => setTimeout(r, 1000).unref()),
				]);
				e.message += w ? ` (waiting for ${w})` : ' (busy: no answer)';
			}
			throw e;
		}
	}
}
