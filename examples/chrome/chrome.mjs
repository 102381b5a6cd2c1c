// examples/chrome/chrome.mjs — starting and stopping the headless Chromium
// that worker.mjs (and bench-capture.mjs) drive: which binary, which flags,
// a profile directory of its own, and an environment without LD_PRELOAD.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

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
const FLAGS = ['--no-sandbox', '--disable-frame-rate-limit', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-extensions', '--mute-audio', '--hide-scrollbars', '--force-color-profile=srgb'];

// flagsFor(opts): FLAGS, plus FB_CHROME_ARGS (space-separated, for
// measuring a flag without editing this file; a --use-gl or --use-angle
// there replaces --disable-gpu).
export function flagsFor(opts = {}) {
	const extra = (process.env.FB_CHROME_ARGS || '').split(/\s+/).filter(Boolean);
	const gl = extra.some((f) => /^--use-(gl|angle)=/.test(f));
	return [...FLAGS.filter((f) => !(opts.frameRateLimit && f === '--disable-frame-rate-limit') &&
		!(gl && f === '--disable-gpu')), ...extra];
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

// launchBrowser({engine, beginFrameControl}) -> puppeteer Browser.  A fresh
// --user-data-dir in a temp dir, removed by closeBrowser.  The pipe
// transport, not a TCP port: nothing to race for, and chromium exits
// when the pipe closes, so a worker killed with SIGKILL leaves no browser.
// Signals are the worker's to handle (puppeteer's handlers would exit the
// process without giving the frame back).
export async function launchBrowser(opts = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fb-chrome-'));
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
		fs.rmSync(dir, { recursive: true, force: true });
		throw e;
	}
	browser.fbProfileDir = dir;
	browser.fbEngine = chrome.engine;
	return browser;
}

// closeBrowser(browser): close it (kill it if closing hangs), remove its
// profile directory.
export async function closeBrowser(browser) {
	if (!browser) return;
	const proc = browser.process();
	await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
	if (proc && proc.exitCode === null && proc.signalCode === null) {
		try { proc.kill('SIGKILL'); } catch { /* already gone */ }
	}
	fs.rmSync(browser.fbProfileDir, { recursive: true, force: true });
}
