// html/clock.js — the render's virtual clock, run in the page before any
// page script (seek.mjs installs it with page.evaluateOnNewDocument).
//
// A page animated by time (Date, performance.now, requestAnimationFrame,
// timers, CSS animations and transitions, Web Animations, <video>/<audio>,
// GSAP) shows, at each captured frame, exactly what it shows at
// t = frame / fps — whichever worker renders the frame and whatever that
// worker rendered before.  Time stands still between seeks; seek(frame)
// moves it:
//  * timers and rAF run in order at their due virtual times; rAF ticks at
//    the render's frame interval (each frame time, the target's included),
//    so a page that accumulates state per callback reaches the same state
//    at frame N whether it got there in one seek or in ten.  Each callback
//    is followed by a task boundary (a MessageChannel hop), so promise
//    continuations run before the next callback, as in a browser;
//  * CSS animations/transitions and Web Animations are paused and set to
//    (t - the virtual time they were created) — an animation started by a
//    timer at 1.0 s starts at 1.0 s, not at the time of the seek;
//  * media are paused at (t - when they appeared), waited for ('seeked');
//  * GSAP: the global timeline is paused and kept at virtual time (so a
//    tween created by a timer at 1.0 s starts at 1.0 s), lag smoothing off;
//    window.__timelines' top-level timelines paused and seek(t) — unless a
//    registered adapter owns the timelines (hyperframes.mjs);
//  * adapters registered with __fbClock.register({seek, ready,
//    ownsTimelines}) are then seeked, and the frame waits for readiness:
//    web fonts, images, media seeks, adapters' ready(), window.fbReady?.().
// Time only runs forward: a seek backward on a page with a history (a timer
// or rAF callback ran: its state may depend on it) returns 'reload' and
// seek.mjs reloads the page and replays from 0 — rare, since each worker's
// claims increase; a page without one (pure seeks: CSS, WAAPI, GSAP, media)
// just seeks back.  Date starts at a fixed epoch and Math.random is seeded,
// so every worker's page sees the same values.  A page with window.fbSeek
// drives itself: seek.mjs calls release() and real time resumes.
// Not covered: subframes (they keep real time), Web Workers, page reactions
// to animation events (animationend) — they run between frames, at no exact
// virtual time.
(() => {
	'use strict';
	const W = window;
	if (W.__fbClock || W !== W.top) return;
	const real = {
		setTimeout: W.setTimeout.bind(W), clearTimeout: W.clearTimeout.bind(W),
		raf: W.requestAnimationFrame.bind(W), caf: W.cancelAnimationFrame.bind(W),
		perfNow: performance.now.bind(performance), Date: W.Date,
		report: (e) => (W.reportError ? W.reportError(e) : console.error(e)),
	};
	const RealDate = real.Date;
	const EPOCH = RealDate.UTC(2025, 0, 1); // what Date says at virtual 0
	let now = 0; // virtual time, ms since the page began
	let released = null; // {now0, perf0}: real time since release()
	let history = false; // a page callback ran: backward needs a reload
	let num = 30, den = 1; // the render's fps, from the first seek
	let lastTick = -1; // the last frame index whose rAF tick ran
	const vnow = () => (released ? released.now0 + real.perfNow() - released.perf0 : now);

	// A hop: a task boundary, so the microtasks a callback queued (promise
	// continuations, MutationObserver records) run before the next one.
	const chan = new MessageChannel(), hops = [];
	chan.port1.onmessage = () => hops.shift()();
	const hop = () => new Promise((r) => { hops.push(r); chan.port2.postMessage(0); });

	// ---- Date, performance.now, Math.random
	function Date(...a) {
		if (!new.target) return new RealDate(EPOCH + vnow()).toString();
		return Reflect.construct(RealDate, a.length ? a : [EPOCH + vnow()], new.target);
	}
	Object.defineProperties(Date, {
		now: { value: () => Math.floor(EPOCH + vnow()), writable: true, configurable: true },
		parse: { value: RealDate.parse, writable: true, configurable: true },
		UTC: { value: RealDate.UTC, writable: true, configurable: true },
		prototype: { value: RealDate.prototype },
		length: { value: 7 },
	});
	Object.defineProperty(RealDate.prototype, 'constructor', { value: Date, writable: true, configurable: true });
	W.Date = Date;
	Object.defineProperty(performance, 'now', { value: () => vnow(), writable: true, configurable: true });
	let seed = 0x9e3779b9; // mulberry32: the same sequence in every worker
	Math.random = () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
		x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
		return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
	};

	// ---- timers: id -> {id, due, seq, fn, args, every, nest, real}
	const timers = new Map();
	let ids = 0, seqs = 0, nest = 0; // nest: the running timer's nesting level
	function call(fn, args) {
		try {
			if (typeof fn === 'function') fn(...args);
			else (0, eval)(String(fn)); // setTimeout('code'): global scope
		} catch (e) { real.report(e); }
	}
	function addTimer(fn, delay, args, repeat) {
		const t = { id: ++ids, fn, args, nest: nest + 1, every: null, real: null };
		let d = Math.max(0, Number(delay) || 0);
		if (nest > 5 && d < 4) d = 4; // HTML's clamp: no busy loop at one instant
		if (repeat) t.every = d;
		timers.set(t.id, t);
		schedule(t, d);
		return t.id;
	}
	function schedule(t, d) {
		t.due = now + d;
		t.seq = ++seqs;
		if (!released) return;
		t.real = real.setTimeout(() => {
			if (!timers.has(t.id)) return;
			if (t.every === null) timers.delete(t.id);
			else schedule(t, t.every);
			call(t.fn, t.args);
		}, Math.max(0, t.due - vnow()));
	}
	function clearTimer(id) {
		const t = timers.get(id);
		if (!t) return;
		timers.delete(id);
		if (t.real !== null) real.clearTimeout(t.real);
	}
	W.setTimeout = (fn, delay, ...args) => addTimer(fn, delay, args, false);
	W.setInterval = (fn, delay, ...args) => addTimer(fn, delay, args, true);
	W.clearTimeout = W.clearInterval = clearTimer;
	W.requestIdleCallback = (fn) => addTimer(fn, 0, [{ didTimeout: false, timeRemaining: () => 50 }], false);
	W.cancelIdleCallback = clearTimer;

	// ---- rAF: id -> {cb, real}; ticks at the render's frame times
	const rafs = new Map();
	let rafIds = 0, gsapTick = null, capturing = false;
	W.requestAnimationFrame = (cb) => {
		const id = ++rafIds, r = { cb, real: null };
		if (capturing) gsapTick = cb;
		rafs.set(id, r);
		if (released) r.real = real.raf((ts) => { rafs.delete(id); call(cb, [released.now0 + ts - released.perf0]); });
		return id;
	};
	W.cancelAnimationFrame = (id) => {
		const r = rafs.get(id);
		if (!r) return;
		rafs.delete(id);
		if (r.real !== null) real.caf(r.real);
	};
	const tickTime = (k) => k * 1000 * den / num;
	// GSAP's own ticker drives nothing while we hold its global timeline
	// and nobody listens to it: its callback is no history, and no reason
	// to step.
	const idleGsap = (cb) => cb === gsapTick && gsapHeld() && gsap().ticker._listeners.length < 2;
	const live = () => { for (const r of rafs.values()) if (!idleGsap(r.cb)) return true; return false; };

	// ---- GSAP
	const adapters = [];
	const gsap = () => W.gsap;
	const owned = () => adapters.some((a) => a.ownsTimelines);
	let held = null; // the global timeline we paused
	function gsapHeld() {
		const g = gsap();
		if (!g || !g.globalTimeline || !g.ticker || owned()) return false;
		if (held !== g.globalTimeline) {
			held = g.globalTimeline;
			g.ticker.lagSmoothing(0);
			held.pause();
			// Learn which rAF callback is GSAP's ticker (see idleGsap).
			g.ticker.sleep();
			capturing = true;
			try { g.ticker.wake(); } finally { capturing = false; }
		}
		return true;
	}
	function syncGsap() {
		if (!gsapHeld()) return;
		const s = now / 1000;
		if (held.totalTime() !== s) held.seek(s, false);
	}

	// ---- animations and media, and when each appeared (virtual ms)
	const anims = new Map(), media = new Map(), theirs = new WeakSet();
	let dirty = true;
	const mo = new MutationObserver(() => { dirty = true; });
	mo.observe(document, { subtree: true, childList: true, attributes: true });
	const animate = Element.prototype.animate;
	Element.prototype.animate = function (...a) { dirty = true; return animate.apply(this, a); };
	// Media never play on their own: each frame sets their time.
	document.addEventListener('play', (e) => { if (!released) { dirty = true; e.target.pause(); } }, true);
	function scan() {
		if (mo.takeRecords().length) dirty = true;
		if (!dirty || released) return;
		dirty = false;
		for (const a of document.getAnimations()) {
			if (anims.has(a) || theirs.has(a)) continue;
			// One the page paused itself, or on another timeline: its own.
			if (a.playState !== 'running' || a.timeline !== document.timeline) { theirs.add(a); continue; }
			anims.set(a, now);
			a.pause();
		}
		for (const m of document.querySelectorAll('video, audio')) {
			if (media.has(m)) continue;
			media.set(m, now);
			m.pause();
			if (m.preload !== 'auto') m.preload = 'auto';
		}
	}

	// ---- advancing time: every timer and tick due by `target`, in order
	async function advance(target) {
		for (;;) {
			let t = null;
			for (const x of timers.values()) if (x.due <= target && (!t || x.due < t.due || (x.due === t.due && x.seq < t.seq))) t = x;
			let k = -1, tk = Infinity;
			if (live()) {
				k = Math.max(lastTick + 1, Math.ceil(now * num / (1000 * den) - 1e-7));
				tk = tickTime(k);
			}
			if (!t && tk > target) break;
			now = Math.max(now, t && t.due <= tk ? t.due : tk);
			syncGsap();
			if (t && t.due <= tk) {
				const level = t.nest, outer = nest;
				if (t.every === null) timers.delete(t.id);
				else {
					t.nest++; // each repetition one level deeper, as in HTML
					schedule(t, level > 5 && t.every < 4 ? 4 : t.every);
				}
				nest = level;
				call(t.fn, t.args);
				nest = outer;
				history = true;
				await hop();
			} else {
				lastTick = k;
				const due = [...rafs];
				for (const [id, r] of due) {
					if (!rafs.has(id)) continue; // cancelled by an earlier one
					rafs.delete(id);
					if (!idleGsap(r.cb)) history = true;
					call(r.cb, [now]);
					await hop();
				}
			}
			scan();
		}
		now = target;
	}

	// A seeked video's frame: 'seeked' and readyState say it is decoded,
	// not that the compositor has it — under load a capture right after
	// can still show the frame before.  requestVideoFrameCallback fires
	// once it is handed over; a video that is never composited (hidden)
	// never fires it, so the wait is bounded, and a video that timed out
	// once is not waited for again.
	const PRESENT_MS = 500, unpresented = new WeakSet();
	function waitPresented(m, then) {
		if (typeof m.requestVideoFrameCallback !== 'function' || unpresented.has(m)) return true;
		let over = false;
		const end = (late) => { if (over) return; over = true; if (late) unpresented.add(m); then(); };
		const id = m.requestVideoFrameCallback(() => end(false));
		real.setTimeout(() => { m.cancelVideoFrameCallback(id); end(true); }, PRESENT_MS);
		return false;
	}
	function seekMedia(m, t) {
		return new Promise((resolve) => {
			const evs = ['loadedmetadata', 'loadeddata', 'seeked', 'canplay', 'error', 'emptied'];
			let set = false, presented = true, over = false;
			const done = () => { if (over) return; over = true; evs.forEach((e) => m.removeEventListener(e, check)); resolve(); };
			const check = () => {
				if (m.error || m.networkState === 3) return done(); // no source: nothing to wait for
				if (m.readyState < 1) return undefined;
				const d = m.duration;
				let want = Math.max(0, t);
				if (isFinite(d) && d > 0) want = m.loop ? want % d : Math.min(want, d);
				if (!set && Math.abs(m.currentTime - want) > 1e-6) {
					set = true;
					// Asked before the seek: the frame may be handed over at once.
					presented = waitPresented(m, () => { presented = true; check(); });
					m.currentTime = want;
					return undefined;
				}
				if (!m.seeking && m.readyState >= 2 && presented) done();
				return undefined;
			};
			evs.forEach((e) => m.addEventListener(e, check));
			if (m.readyState === 0 && m.networkState === 1) m.load(); // idle, never loaded (preload none)
			check();
		});
	}

	// Time, timelines, adapters and animations at frame `frame` (no media,
	// no readiness: seek() adds those for the frame captured): its time in
	// ms, or 'reload' (see the top).
	let placed = -1; // the frame last placed
	async function place(frame) {
		const target = tickTime(frame);
		gsapHeld();
		scan(); // what appeared since the last seek appeared at `now`
		if (target < now) {
			if (history) return 'reload';
			now = target;
			lastTick = Math.min(lastTick, frame);
		}
		await advance(target);
		syncGsap();
		scan();
		const t = target / 1000;
		const tls = W.__timelines;
		if (tls && typeof tls === 'object' && !owned()) {
			for (const tl of Object.values(tls)) {
				if (!tl || typeof tl.seek !== 'function' || (tl.parent && gsap() && tl.parent !== gsap().globalTimeline)) continue;
				tl.pause();
				tl.seek(t, false);
			}
		}
		for (const a of adapters) if (a.seek) await a.seek(t, frame, num / den);
		scan(); // animations the adapters' seeks started start now
		for (const [a, s] of anims) {
			if (a.playState === 'idle') { anims.delete(a); continue; } // cancelled: never revived
			if (a.playState !== 'paused') a.pause();
			a.currentTime = (target - s) * a.playbackRate;
		}
		placed = frame;
		return target;
	}

	const clock = {
		waiting: null, // what readiness waits for now (named when it hangs)
		now: vnow,
		register(a) { adapters.push(a); dirty = true; },
		release() {
			if (released) return;
			released = { now0: now, perf0: real.perfNow() };
			for (const t of timers.values()) schedule(t, Math.max(0, t.due - now));
			for (const [id, r] of rafs) r.real = real.raf((ts) => { rafs.delete(id); call(r.cb, [released.now0 + ts - released.perf0]); });
		},
		// Go to frame / (n/d) s; resolves once the frame is ready to capture,
		// or 'reload' (see the top).
		async seek(frame, n, d) {
			if (released) throw new Error('the clock was released (the page has window.fbSeek)');
			num = n; den = d;
			// The frame before first, unless it was the last one placed: a
			// page that draws from what it drew last (a motion blur from
			// the previous position, a velocity) then shows frame N as
			// after N-1, whichever worker renders it and whatever that
			// worker rendered before — as a render in order shows it.
			if (frame > 0 && placed !== frame - 1 && await place(frame - 1) === 'reload') return 'reload';
			const target = await place(frame);
			if (target === 'reload') return 'reload';
			const seeks = [];
			for (const [m, s] of media) {
				if (!m.isConnected) { media.delete(m); continue; }
				// + 1 ms: containers round timestamps (WebM to the ms: frame 2
				// of 30 fps is at 67 ms, after 2/30 s), and a frame exactly
				// on time must not show the one before it.
				seeks.push([m, seekMedia(m, (target - s + 1) / 1000)]);
			}
			// Readiness: each wait named in `waiting` (seek.mjs reads it when
			// the deadline passes).
			if (document.fonts && document.fonts.status !== 'loaded') {
				clock.waiting = 'web fonts loading (document.fonts.ready)';
				await document.fonts.ready;
			}
			for (const img of document.images) {
				if (img.complete || img.loading === 'lazy') continue;
				clock.waiting = `the image ${img.currentSrc || img.src}`;
				await img.decode().catch(() => {});
			}
			for (const [m, p] of seeks) {
				clock.waiting = `the ${m.localName} ${m.currentSrc || m.src} seeking to ${((target - media.get(m)) / 1000).toFixed(3)} s`;
				await p;
			}
			for (const a of adapters) {
				if (!a.ready) continue;
				clock.waiting = `${a.name || 'an adapter'}'s ready()`;
				await a.ready();
			}
			if (typeof W.fbReady === 'function') {
				clock.waiting = 'window.fbReady()';
				await W.fbReady();
			}
			clock.waiting = null;
			return undefined;
		},
	};
	Object.defineProperty(W, '__fbClock', { value: clock });
	// Adapters that ran first queued themselves here.
	for (const a of W.__fbClockQueue || []) clock.register(a);
})();
