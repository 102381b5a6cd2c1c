// html/bench-capture.mjs — measures the ways worker.mjs could
// capture a frame, without framebroker: which CDP call, which image format
// and settings, and how browsers are shared between workers.  Each case
// renders page.html's frames into a preallocated Buffer (standing in for
// the slot) and prints frames/s, CPU seconds of the whole process tree
// (node and every chromium process) and its peak RSS and PSS.
//
//   node bench-capture.mjs [--size WxH] [--frames N] [--case NAME]... [--check]
//
// --check: capture each frame twice (in a different order) and compare the
// bytes: the seek is deterministic or the case says it is not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchBrowser, closeBrowser } from './chrome.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function args() {
	const a = { w: 1920, h: 1080, frames: 60, cases: [], check: false, page: path.join(here, 'page.html') };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i++) {
		if (v[i] === '--size') [a.w, a.h] = v[++i].split('x').map(Number);
		else if (v[i] === '--frames') a.frames = Number(v[++i]);
		else if (v[i] === '--case') a.cases.push(v[++i]);
		else if (v[i] === '--check') a.check = true;
		else if (v[i] === '--page') a.page = v[++i];
		else throw new Error(`bench-capture: unknown argument ${v[i]}`);
	}
	return a;
}

// The process tree under (and including) pid, from /proc.
function tree(pid) {
	const kids = new Map();
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		try {
			const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
			const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
			if (!kids.has(ppid)) kids.set(ppid, []);
			kids.get(ppid).push(Number(d));
		} catch { /* gone meanwhile */ }
	}
	const out = [], todo = [pid];
	while (todo.length) {
		const p = todo.pop();
		out.push(p);
		for (const k of kids.get(p) || []) todo.push(k);
	}
	return out;
}

// CPU ticks (user+system) of the live processes of the tree, by pid.
function ticks(pids) {
	const m = new Map();
	for (const p of pids) {
		try {
			const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
			const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
			m.set(p, Number(f[11]) + Number(f[12]));
		} catch { /* gone */ }
	}
	return m;
}

function memory(pids) {
	let rss = 0, pss = 0;
	for (const p of pids) {
		try {
			const s = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
			rss += Number(/^Rss:\s+(\d+)/m.exec(s)[1]);
			pss += Number(/^Pss:\s+(\d+)/m.exec(s)[1]);
		} catch { /* gone */ }
	}
	return { rss, pss }; // kB
}

const HZ = 100; // USER_HZ on Linux

// A capture: (page, session, slot) -> bytes written into slot.
const captures = {
	'pptr-jpeg80': async (pg, s, slot) => {
		const b = await pg.screenshot({ type: 'jpeg', quality: 80, optimizeForSpeed: true });
		return Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(slot);
	},
	'cdp-jpeg80': (pg, s, slot) => cdp(s, slot, { format: 'jpeg', quality: 80, optimizeForSpeed: true }),
	'cdp-jpeg80-slow': (pg, s, slot) => cdp(s, slot, { format: 'jpeg', quality: 80 }),
	'cdp-jpeg80-nosurface': (pg, s, slot) => cdp(s, slot, { format: 'jpeg', quality: 80, optimizeForSpeed: true, fromSurface: false }),
	'cdp-jpeg80-copy': async (pg, s, slot) => {
		const r = await s.send('Page.captureScreenshot', { format: 'jpeg', quality: 80, optimizeForSpeed: true });
		return Buffer.from(r.data, 'base64').copy(slot);
	},
	'cdp-jpeg100': (pg, s, slot) => cdp(s, slot, { format: 'jpeg', quality: 100, optimizeForSpeed: true }),
	'cdp-jpeg50': (pg, s, slot) => cdp(s, slot, { format: 'jpeg', quality: 50, optimizeForSpeed: true }),
	'cdp-png': (pg, s, slot) => cdp(s, slot, { format: 'png' }),
	'cdp-png-fast': (pg, s, slot) => cdp(s, slot, { format: 'png', optimizeForSpeed: true }),
	'cdp-webp80': (pg, s, slot) => cdp(s, slot, { format: 'webp', quality: 80, optimizeForSpeed: true }),
	'bf-jpeg80': (pg, s, slot, st) => beginFrame(s, slot, st, { format: 'jpeg', quality: 80, optimizeForSpeed: true }),
	'bf-png': (pg, s, slot, st) => beginFrame(s, slot, st, { format: 'png', optimizeForSpeed: true }),
};

async function cdp(s, slot, opts) {
	const r = await s.send('Page.captureScreenshot', opts);
	return slot.write(r.data, 'base64');
}

// No damage since the last frame: no screenshotData; the pixels are the
// last frame's, so are its bytes.
async function beginFrame(s, slot, st, screenshot) {
	st.ticks = (st.ticks || 1e6) + 1000 / 30;
	const r = await s.send('HeadlessExperimental.beginFrame', { frameTimeTicks: st.ticks, interval: 1000 / 30, screenshot });
	if (r.screenshotData) st.last = r.screenshotData;
	if (!st.last) throw new Error('beginFrame: no screenshot, and none before');
	return slot.write(st.last, 'base64');
}

async function openPage(browser, shared, w, h, url, begin) {
	const ctx = shared ? await browser.createBrowserContext() : browser.defaultBrowserContext();
	const pg = await ctx.newPage();
	await pg.setViewport({ width: w, height: h, deviceScaleFactor: 1 });
	const s = await pg.createCDPSession();
	const nav = pg.goto(url, { waitUntil: 'load' });
	if (begin) {
		// Under BeginFrame control nothing happens, loading included,
		// unless frames are issued.
		let done = false, ticks = 0;
		nav.then(() => { done = true; }, () => { done = true; });
		while (!done) {
			ticks += 1000 / 30;
			await s.send('HeadlessExperimental.beginFrame', { frameTimeTicks: ticks, interval: 1000 / 30, noDisplayUpdates: true }).catch(() => {});
			await new Promise((r) => setTimeout(r, 2));
		}
	}
	await nav;
	return { pg, s, ctx };
}

// One loop: frames f0, f0+step, ... < n into one page.
async function loop(p, name, slot, frames, seekWait, st) {
	const sizes = [];
	for (const f of frames) {
		await p.pg.evaluate((f, wait) => { const r = window.fbSeek(f, 30); return wait ? r : undefined; }, f, seekWait);
		sizes.push(await captures[name](p.pg, p.s, slot, st));
	}
	return sizes;
}

async function runCase(a, spec) {
	// spec: capture[:k=K][:shared][:noraf][:e=new|shell][:limit]
	const parts = spec.split(':');
	const name = parts[0];
	const k = Number((parts.find((x) => x.startsWith('k=')) || 'k=1').slice(2));
	const shared = parts.includes('shared');
	const begin = name.startsWith('bf-');
	const seekWait = !parts.includes('noraf') && !begin;
	const engine = (parts.find((x) => x.startsWith('e=')) || 'e=auto').slice(2);
	const frameRateLimit = parts.includes('limit');
	if (!captures[name]) throw new Error(`no case ${name}`);
	const browsers = [];
	try {
		await measure(a, spec, name, k, shared, seekWait, begin, engine, frameRateLimit, browsers);
	} finally {
		for (const b of browsers) await closeBrowser(b);
	}
}

async function measure(a, spec, name, k, shared, seekWait, begin, engine, frameRateLimit, browsers) {
	const url = pathToFileURL(a.page).href;
	const pages = [];
	const t0 = process.hrtime.bigint();
	const nb = shared ? 1 : k;
	for (let i = 0; i < nb; i++) browsers.push(await launchBrowser({ beginFrameControl: begin, engine, frameRateLimit }));
	for (let i = 0; i < k; i++) pages.push(await openPage(browsers[shared ? 0 : i], shared, a.w, a.h, url, begin));
	const startup = Number(process.hrtime.bigint() - t0) / 1e9;
	const slotBytes = a.w * a.h * 4 + 65536;
	const slots = pages.map(() => Buffer.alloc(slotBytes));
	// Warm-up: a few frames each, not measured.
	const states = pages.map(() => ({}));
	await Promise.all(pages.map((p, i) => loop(p, name, slots[i], [0, 1, 2], seekWait, states[i])));
	const pids = () => tree(process.pid);
	let peak = { rss: 0, pss: 0 };
	const sample = () => { const m = memory(pids()); peak = { rss: Math.max(peak.rss, m.rss), pss: Math.max(peak.pss, m.pss) }; };
	const timer = setInterval(sample, 200);
	const c0 = ticks(pids()), u0 = process.cpuUsage();
	const t1 = process.hrtime.bigint();
	const sizes = await Promise.all(pages.map((p, i) => {
		const fr = [];
		for (let f = i; f < a.frames; f += k) fr.push(f);
		return loop(p, name, slots[i], fr, seekWait, states[i]);
	}));
	const secs = Number(process.hrtime.bigint() - t1) / 1e9;
	sample();
	clearInterval(timer);
	const c1 = ticks(pids());
	let chromeTicks = 0;
	for (const [p, t] of c1) if (p !== process.pid) chromeTicks += t - (c0.get(p) || 0);
	const u = process.cpuUsage(u0);
	const nodeCpu = (u.user + u.system) / 1e6;
	let check = '';
	if (a.check) {
		// Frames again, in reverse and each on another page than before:
		// same bytes or the case is not deterministic.
		const again = await Promise.all(pages.map(async (p, i) => {
			const fr = [];
			for (let f = i; f < a.frames; f += k) fr.push(f);
			const other = pages[(i + 1) % k];
			const out = [];
			for (const f of fr.reverse()) {
				const s1 = Buffer.alloc(slotBytes), s2 = Buffer.alloc(slotBytes);
				await p.pg.evaluate((f) => { window.fbSeek(f, 30); }, f);
				const n1 = await captures[name](p.pg, p.s, s1, states[i]);
				await other.pg.evaluate((f) => { window.fbSeek(f, 30); }, f);
				const n2 = await captures[name](other.pg, other.s, s2, states[(i + 1) % k]);
				out.push(n1 === n2 && s1.subarray(0, n1).equals(s2.subarray(0, n2)));
			}
			return out;
		}));
		const flat = again.flat();
		check = ` deterministic ${flat.filter(Boolean).length}/${flat.length}`;
	}
	const all = sizes.flat();
	const avg = all.reduce((x, y) => x + y, 0) / all.length;
	console.log(`${spec.padEnd(30)} ${browsers[0].fbEngine.padEnd(5)} ${a.w}x${a.h} k=${k} ${(a.frames / secs).toFixed(1).padStart(6)} fps  ` +
		`cpu ${(nodeCpu + chromeTicks / HZ).toFixed(2)} s (node ${nodeCpu.toFixed(2)})  ` +
		`${(nodeCpu + chromeTicks / HZ) / a.frames * 1000 | 0} ms/frame  ` +
		`rss ${(peak.rss / 1024) | 0} MB pss ${(peak.pss / 1024) | 0} MB  ` +
		`avg ${(avg / 1024).toFixed(0)} KiB  startup ${startup.toFixed(2)} s${check}`);
}

const a = args();
const cases = a.cases.length ? a.cases : ['cdp-jpeg80:e=new:limit', 'cdp-jpeg80:e=new', 'cdp-jpeg80:e=shell:limit',
	'cdp-jpeg80', 'pptr-jpeg80', 'cdp-jpeg80-copy', 'cdp-jpeg80-slow', 'cdp-jpeg80-nosurface', 'cdp-jpeg100',
	'cdp-jpeg50', 'cdp-png', 'cdp-png-fast', 'cdp-webp80', 'cdp-jpeg80:noraf', 'bf-jpeg80', 'bf-png',
	'cdp-jpeg80:k=2', 'cdp-jpeg80:k=2:shared', 'bf-jpeg80:k=2', 'bf-jpeg80:k=2:shared'];
console.log(`# ${os.cpus().length} CPUs, ${a.frames} frames each, load ${os.loadavg()[0].toFixed(2)}`);
for (const c of cases) {
	try {
		await runCase(a, c);
	} catch (e) {
		console.log(`${c.padEnd(30)} failed: ${e.message}`);
	}
}
