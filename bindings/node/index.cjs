// index.cjs — the framebroker Node binding's public API (CommonJS; index.mjs
// re-exports it for ESM): the Producer class around the native addon
// framebroker.node (src/*.c, listed in src/fb_node.h; built by `make
// node`).  README.md is the documentation; index.d.ts the types.
'use strict';

const path = require('node:path');

function loadAddon() {
	try {
		return require(path.join(__dirname, 'framebroker.node'));
	} catch (e) {
		const err = new Error(`framebroker: cannot load ${path.join(__dirname, 'framebroker.node')} ` +
			`(build it with \`make node\` in the framebroker tree): ${e.message}`);
		err.code = 'ERR_FB_ADDON';
		err.cause = e;
		throw err;
	}
}
const native = loadAddon();

const handleOf = new WeakMap(); // Producer -> native handle (kept private)

class Producer {
	constructor(handle) {
		if (!handle || typeof handle !== 'object')
			throw new TypeError('framebroker: use attach() to get a Producer');
		handleOf.set(this, handle);
		Object.defineProperty(this, 'geometry', {
			value: Object.freeze(native.geometry(handle)),
			enumerable: true,
		});
	}

	// Promise<{frame, data} | null>; see README.md.
	claim() {
		return native.claim(handleOf.get(this));
	}

	publish(length) {
		if (length === undefined) {
			if (this.geometry.frameFormat !== 'raw')
				throw new TypeError(`publish: a ${this.geometry.frameFormat} frame needs its length`);
			length = this.geometry.frameBytes;
		}
		native.publish(handleOf.get(this), length);
	}

	abortClaim() {
		native.abortClaim(handleOf.get(this));
	}

	fail(reason) {
		return native.fail(handleOf.get(this), String(reason));
	}

	detach() {
		native.detach(handleOf.get(this));
	}

	// The frame claimed now (not yet published or given back), or null.
	get claimedFrame() {
		return native.held(handleOf.get(this));
	}

	// for await (const {frame, data} of producer): each claimed frame; the
	// loop body publishes it (or gives it back).  A body that does neither
	// before the next iteration is a bug: the frame is given back and the
	// loop throws (code 'EINVAL').  Leaving the loop early (break, return,
	// a throw) gives a frame still held back.  The loop ends when no frame
	// is left; the producer stays attached (detach() it).
	async *[Symbol.asyncIterator]() {
		const h = handleOf.get(this);
		try {
			for (;;) {
				const c = await native.claim(h);
				if (c === null)
					return;
				yield c;
				if (native.held(h) === c.frame) {
					native.abortClaim(h);
					const err = new Error(`for await: frame ${c.frame} was neither published ` +
						'nor given back (abortClaim) by the loop body; it was given back');
					err.code = 'EINVAL';
					err.errno = -22;
					throw err;
				}
			}
		} finally {
			if (native.held(h) !== null)
				native.abortClaim(h);
		}
	}
}

// attach(name?, {timeout}?) -> Promise<Producer>.  No name (undefined or
// null): the render that started this process (fb-render --source
// attach:CMD sets FB_SEGMENT and FB_FD).  timeout: milliseconds to wait for
// the segment to appear (default 5000; < 0 forever); the wait runs on
// libuv's thread pool, not on the event loop.
async function attach(name, options) {
	if (name !== undefined && name !== null && typeof name !== 'string')
		throw new TypeError('attach: the name must be a string (or omitted)');
	const timeout = options && options.timeout !== undefined ? Number(options.timeout) : 5000;
	if (Number.isNaN(timeout))
		throw new TypeError('attach: timeout must be a number of milliseconds');
	return new Producer(await native.attach(name ?? null, timeout));
}

const RESTART_EXIT_CODE = 4;

module.exports = { attach, Producer, version: native.version(), RESTART_EXIT_CODE };
// As index.d.ts says: `import fb from 'framebroker'` and require().default alike.
module.exports.default = module.exports;
