// html/chrome.mjs — starting and stopping the headless Chromium
// that worker.mjs (and bench-capture.mjs) drive: which binary, which flags,
// a profile directory of its own, and an environment without LD_PRELOAD.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import puppeteer from 'puppeteer-core';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A bound on a wait that must not by itself keep the process alive.
const cap = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// Debian's chromium: /usr/bin/chromium is a shell wrapper that sources
// /etc/chromium.d (extensions, flags we do not want); the binary it execs
// is used directly.  Two engines: 'shell', Debian's chromium-headless-shell
// (the old headless: no browser UI layer, the fastest capture measured here
// at small sizes, and the only one with BeginFrame control), and 'new',
// chromium --headless.  'auto': shell if installed.  CHROME_PATH overrides
// the binary (its engine is then 'new' unless the name says headless-shell).
const SHELL = '/usr/lib/chromium/chromium-headless-shell';
const NEW = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromeFor(engine = 'auto') {
	if (process.env.CHROME_PATH) {
		const p = process.env.CHROME_PATH;
		return { path: p, engine: /headless-shell/.test(p) ? 'shell' : 'new' };
	}
	if (engine !== 'new' && fs.existsSync(SHELL)) return { path: SHELL, engine: 'shell' };
	if (engine === 'shell') throw new Error(`no ${SHELL} (apt-get install chromium-headless-shell)`);
	for (const p of NEW) if (fs.existsSync(p)) return { path: p, engine: 'new' };
	throw new Error('no chromium found (apt-get install chromium, or set CHROME_PATH)');
}

// Flags that work headless as root in a container, and keep the browser
// off the network and quiet: without them a browser makes background
// connections (component updates, sync, QUIC probes) that are refused
// here and cost time.
// --disable-frame-rate-limit: without it every capture waits for the
// next 60 Hz display tick (44 -> 15 ms a frame at 320x180 measured here).
// Text drawn the same on every machine (the flags `hyperframes render`
// gives its Chrome): no font hinting (else glyph advances follow the
// machine's fontconfig hinting setting, and lines wrap differently), no
// subpixel (LCD) antialiasing (colour fringes that depend on the
// display's subpixel order), one CSS pixel per device pixel whatever the
// host's scale.
const TEXT = ['--font-render-hinting=none', '--disable-lcd-text', '--force-device-scale-factor=1'];
const FLAGS = ['--no-sandbox', '--disable-frame-rate-limit', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-extensions', '--mute-audio', '--hide-scrollbars', '--force-color-profile=srgb', ...TEXT];

// flagsFor(opts): FLAGS, plus FB_CHROME_ARGS (space-separated, for
// measuring a flag without editing this file; a --use-gl or --use-angle
// there replaces --disable-gpu).
export function flagsFor(opts = {}) {
	const extra = (process.env.FB_CHROME_ARGS || '').split(/\s+/).filter(Boolean);
	const gl = extra.some((f) => /^--use-(gl|angle)=/.test(f));
	return [...FLAGS.filter((f) => !(opts.frameRateLimit && f === '--disable-frame-rate-limit') &&
		!(gl && f === '--disable-gpu')), ...noNetwork(opts.netHosts || []), ...extra];
}

// No connection leaves the browser on its own.  The worker answers the
// page's requests itself (serve.mjs: CDP Fetch), but Fetch never sees a
// WebSocket, nor the requests of a window the page opens: every
// connection the browser would make goes to a proxy that cannot exist (an
// .invalid name: nobody, not even a local user, can answer for it), with
// loopback included (<-loopback>: Chrome bypasses proxies for it by
// default).  `hosts` (HOST[:PORT]) go direct: the origin of a URL the user
// asked to render.
function noNetwork(hosts) {
	const bad = hosts.find((h) => !/^[A-Za-z0-9.:[\]-]+$/.test(h));
	if (bad !== undefined) throw new Error(`${JSON.stringify(bad)}: not a host`);
	return ['--proxy-server=http://no-network.invalid:9', `--proxy-bypass-list=${['<-loopback>', ...hosts].join(';')}`];
}

// The browser's environment: the worker's, minus what is meant for node
// only.  Under the sanitizer stage node runs with the ASan runtime in
// LD_PRELOAD (libframebroker.so is built with ASan); chromium must not get
// it (it is not built with ASan and aborts or crawls under its runtime).
function browserEnv() {
	const env = { ...process.env };
	delete env.LD_PRELOAD;
	delete env.ASAN_OPTIONS;
	delete env.UBSAN_OPTIONS;
	delete env.LSAN_OPTIONS;
	return env;
}

// Where a worker's temporary directories go (a profile; the shared mode's
// rendezvous): FB_TMPDIR, the private per-render directory fb-render
// makes and removes after its last child is reaped — so even a worker
// SIGKILLed leaves nothing — else (a worker started by hand against
// fb-broker) the usual temp dir, where only our own cleanup helps.
export function tmpBase() {
	return process.env.FB_TMPDIR || os.tmpdir();
}

// Directories made here and not yet removed: removed at exit (process.exit
// runs 'exit' listeners synchronously) on a path that could not close its
// browser in time.  A death by signal skips them: the worker re-raises a
// signal only after its own cleanup.
const made = new Set();
process.on('exit', () => { for (const d of made) removeDir(d); });

// removeDir(dir): rm -rf, retrying while a browser child still writes in it.
export function removeDir(dir) {
	try {
		fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
		made.delete(dir);
	} catch { /* the 'exit' listener tries once more; FB_TMPDIR is the backstop */ }
}

// launchBrowser({engine, beginFrameControl}) -> puppeteer Browser.  A fresh
// --user-data-dir under tmpBase(), removed by closeBrowser.  The pipe
// transport, not a TCP port: nothing to race for, and chromium exits
// when the pipe closes, so a worker killed with SIGKILL leaves no browser.
// Signals are the worker's to handle (puppeteer's handlers would exit the
// process without giving the frame back).
export async function launchBrowser(opts = {}) {
	const dir = fs.mkdtempSync(path.join(tmpBase(), 'fb-chrome-'));
	made.add(dir);
	const chrome = chromeFor(opts.beginFrameControl ? 'shell' : opts.engine);
	const args = [...flagsFor(opts), `--user-data-dir=${dir}`];
	if (opts.beginFrameControl) args.push('--enable-begin-frame-control', '--deterministic-mode');
	let browser;
	try {
		browser = await puppeteer.launch({
			executablePath: chrome.path,
			headless: chrome.engine === 'shell' ? 'shell' : true,
			args,
			ignoreDefaultArgs: ['--enable-automation'],
			pipe: true,
			env: browserEnv(),
			handleSIGINT: false,
			handleSIGTERM: false,
			handleSIGHUP: false,
			defaultViewport: null,
			protocolTimeout: opts.protocolTimeout ?? 60000,
			timeout: opts.timeout ?? 60000,
		});
	} catch (e) {
		removeDir(dir);
		throw e;
	}
	browser.fbProfileDir = dir;
	browser.fbEngine = chrome.engine;
	return browser;
}

// closeBrowser(browser): close it (kill its process group if closing
// hangs, and wait for it: a dying browser may still write in its profile),
// remove its profile directory.
export async function closeBrowser(browser) {
	if (!browser) return;
	const proc = browser.process();
	await Promise.race([browser.close().catch(() => {}), cap(5000)]);
	if (proc && proc.exitCode === null && proc.signalCode === null) {
		const gone = new Promise((r) => proc.once('exit', r));
		try { process.kill(-proc.pid, 'SIGKILL'); } catch { try { proc.kill('SIGKILL'); } catch { /* gone */ } }
		await Promise.race([gone, cap(2000)]);
	}
	removeDir(browser.fbProfileDir);
}

// openPage(browser, {shared}) -> {ctx, page}: the worker's page, and the
// browser's initial about:blank closed (its renderer would otherwise stay,
// idle, beside the page's).  Own browser: the page in its default context,
// and every page there before it was the browser's own.  Shared browser: a
// BrowserContext of our own (our page gets a renderer process of its own:
// one worker's crash is its alone), and of the other pages only those in
// the browser's real default context are closed, by their
// browserContextId.  Not puppeteer's defaultBrowserContext().pages(): it
// also lists the pages of every context created after we connected —
// other workers' — and closing those failed their captures with "Target
// closed" (1 render in 3-4 with 6 workers).  Exported for the tests.
export async function openPage(browser, { shared = false } = {}) {
	if (!shared) {
		const initial = await browser.defaultBrowserContext().pages();
		const page = await browser.newPage();
		for (const pg of initial) await pg.close().catch(() => {});
		return { ctx: null, page };
	}
	const ctx = await browser.createBrowserContext();
	const page = await ctx.newPage();
	await closeDefaultPages(browser);
	return { ctx, page };
}

// The pages of the shared browser's default context (none of ours: a
// worker's page is in its own context).  Another worker may close one
// first; a Chromium too old to name its default context: nothing closed.
async function closeDefaultPages(browser) {
	const s = await browser.target().createCDPSession();
	try {
		const { defaultBrowserContextId: def } = await s.send('Target.getBrowserContexts');
		const { targetInfos } = await s.send('Target.getTargets');
		for (const t of targetInfos) {
			if (def && t.type === 'page' && t.browserContextId === def)
				await s.send('Target.closeTarget', { targetId: t.targetId }).catch(() => {});
		}
	} finally {
		await s.detach().catch(() => {});
	}
}

// ---- one browser per render, shared by its K workers (--browser shared) ----
//
// The K workers of one render (the same FB_SEGMENT) meet in a directory of
// their own, tmpBase()/fb-chrome-UID-SEGMENT, mode 0700: `lock` (created
// with O_EXCL, holding its owner's pid; a dead owner's lock is taken over),
// `w.PID` (one per worker using the browser: the refcount), `endpoint`
// (the browser's pid and DevTools websocket) and `profile/`.  Under the
// lock the first worker spawns the browser detached from itself (it
// survives its launcher: the others keep it; fb-render, a subreaper, ends
// it after the render if nobody did), with --remote-debugging-port=0 on
// 127.0.0.1, and reads the port from the profile's DevToolsActivePort;
// everyone, the launcher too, puppeteer.connect()s to it.  The last worker
// to leave kills it and, still holding the lock, renames the directory
// away (then removes it): a worker waiting for the lock finds the
// directory gone, never a half-removed one — joining, it makes a fresh
// one; leaving, it has nothing left to do.  A dead browser (its pid gone)
// is relaunched by the next worker that comes in.
//
// The risk: Chrome's DevTools port is unauthenticated.  Any local user can
// connect to 127.0.0.1:PORT during the render and drive the browser (run
// script in our pages, read file:// URLs as us).  The 0700 directory hides
// the endpoint file, not the port (a port scan finds it).  On a machine
// with untrusted local users use --browser own (a pipe per worker).
function alive(pid) {
	try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

function sharedDir() {
	const seg = process.env.FB_SEGMENT;
	if (!seg) throw new Error('--browser shared: no FB_SEGMENT (not started by fb-render --source attach:)');
	return path.join(tmpBase(), `fb-chrome-${process.getuid()}-${seg.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
}

// makeSharedDir(dir): create it (or find it), ours and 0700 or refused.
// Gone again before the check (another worker came and went): made again.
function makeSharedDir(dir) {
	let st;
	for (;;) {
		try { fs.mkdirSync(dir, { mode: 0o700 }); } catch (e) { if (e.code !== 'EEXIST') throw e; }
		try { st = fs.lstatSync(dir); break; } catch (e) { if (e.code !== 'ENOENT') throw e; }
	}
	if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o077))
		throw new Error(`${dir}: not a directory of ours with mode 0700; refusing to share a browser through it`);
}

// withLock(dir, fn, {create}): fn() under dir's lock.  The directory gone
// (the last worker out removed it): remade when `create` (joining), else
// an ENOENT error (leaving: nothing to leave).  Exported for the tests.
export async function withLock(dir, fn, { create = false } = {}) {
	const lock = path.join(dir, 'lock');
	for (let i = 0; ; i++) {
		try {
			fs.writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
			break;
		} catch (e) {
			if (e.code === 'ENOENT' && create) {
				makeSharedDir(dir);
				continue;
			}
			if (e.code !== 'EEXIST') throw e;
			let owner;
			try {
				owner = Number(fs.readFileSync(lock, 'utf8') || 0);
			} catch (e2) {
				if (e2.code === 'ENOENT') continue; // released meanwhile: try again
				throw e2;
			}
			// A lock just created may not hold its pid yet: only a pid
			// seen dead is stale.
			if (owner > 0 && !alive(owner)) fs.rmSync(lock, { force: true });
			else await sleep(10);
			if (i > 6000) throw new Error(`${lock}: held by ${owner} for over a minute`);
		}
	}
	let kept = true;
	try {
		const r = await fn(() => { kept = false; });
		return r;
	} finally {
		if (kept) fs.rmSync(lock, { force: true });
	}
}

function readEndpoint(dir) {
	try { return JSON.parse(fs.readFileSync(path.join(dir, 'endpoint'), 'utf8')); } catch { return null; }
}

async function spawnShared(dir, opts) {
	const chrome = chromeFor(opts.engine);
	const prof = path.join(dir, 'profile');
	fs.rmSync(prof, { recursive: true, force: true });
	const args = puppeteer.defaultArgs({ headless: chrome.engine === 'shell' ? 'shell' : true,
		args: flagsFor(opts), userDataDir: prof })
		.filter((f) => f !== '--enable-automation' && f !== 'about:blank' && !f.startsWith('--remote-debugging'));
	args.push('--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1', 'about:blank');
	const child = spawn(chrome.path, args, { detached: true, stdio: process.env.FB_CHROME_DEBUG ? ['ignore', 'inherit', 'inherit'] : 'ignore', env: browserEnv() });
	child.unref();
	const portFile = path.join(prof, 'DevToolsActivePort');
	for (let i = 0; i < 600; i++) {
		if (child.exitCode !== null || child.signalCode !== null)
			throw new Error(`${chrome.path} exited (${child.exitCode ?? child.signalCode}) before it listened`);
		let lines = [];
		try { lines = fs.readFileSync(portFile, 'utf8').split('\n'); } catch { /* not yet */ }
		if (lines.length >= 2 && lines[1]) {
			const ep = { pid: child.pid, ws: `ws://127.0.0.1:${lines[0]}${lines[1]}`, engine: chrome.engine };
			fs.writeFileSync(path.join(dir, 'endpoint'), JSON.stringify(ep), { mode: 0o600 });
			return ep;
		}
		await sleep(50);
	}
	try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
	throw new Error(`${chrome.path} did not listen within 30 s`);
}

// joinBrowser(opts) -> puppeteer Browser connected to the render's shared
// browser (launched if none is alive); leaveBrowser(browser) to leave it.
export async function joinBrowser(opts = {}) {
	const dir = sharedDir();
	makeSharedDir(dir);
	let browser, ep;
	try {
		ep = await withLock(dir, async () => {
			fs.writeFileSync(path.join(dir, `w.${process.pid}`), '', { mode: 0o600 });
			const old = readEndpoint(dir);
			if (old && alive(old.pid)) return old;
			return spawnShared(dir, opts);
		}, { create: true });
		browser = await puppeteer.connect({ browserWSEndpoint: ep.ws, defaultViewport: null,
			protocolTimeout: opts.protocolTimeout ?? 60000 });
	} catch (e) {
		await leaveShared(dir).catch(() => {}); // the join's error is the one to tell
		throw e;
	}
	browser.fbShared = { dir, pid: ep.pid };
	browser.fbEngine = ep.engine;
	return browser;
}

// endBrowser(pid): SIGTERM its process group (the browser, its zygote and
// renderers), SIGKILL after 2 s.  Its pid may be a zombie of fb-render's
// for a moment (alive() says yes): the wait is bounded, not a hang.
async function endBrowser(pid) {
	const signal = (sig) => { try { process.kill(-pid, sig); } catch { try { process.kill(pid, sig); } catch { /* gone */ } } };
	signal('SIGTERM');
	for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
	if (alive(pid)) signal('SIGKILL');
}

// Leave: unregister; the last one out ends the browser and, under the
// lock, moves the directory out of the way, then removes it.  The
// directory already gone: someone else was last; nothing to do.
export async function leaveShared(dir) {
	const gone = `${dir}.gone.${process.pid}`;
	let last;
	try {
		last = await withLock(dir, async (released) => {
			fs.rmSync(path.join(dir, `w.${process.pid}`), { force: true });
			const others = fs.readdirSync(dir).filter((f) => /^w\.\d+$/.test(f) && alive(Number(f.slice(2))));
			if (others.length) return false;
			const ep = readEndpoint(dir);
			if (ep && alive(ep.pid)) await endBrowser(ep.pid);
			fs.renameSync(dir, gone); // the lock goes with it
			released();
			return true;
		});
	} catch (e) {
		if (e.code === 'ENOENT') return; // already cleaned
		throw e;
	}
	if (last) removeDir(gone);
}

export async function leaveBrowser(browser) {
	if (!browser) return;
	try { await browser.disconnect(); } catch { /* gone */ }
	await leaveShared(browser.fbShared.dir);
}
