// wait.test.mjs — claim() on a full ring waits without blocking the event
// loop (a timer keeps firing), wakes when the encoder frees a slot, refuses
// a second concurrent claim, and is rejected (not leaked, not a crash) when
// the producer is detached while it waits.  The ring is full because the
// test's own encoder is not started yet, or is SIGSTOPped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../index.mjs';
import * as h from './helpers.mjs';

// Claim and publish frames until a claim does not settle while a 10 ms
// timer fires 5 times: returns that pending claim, and how many times the
// timer fired while it was pending.  (A claim of a free slot settles at
// once, before any timer; one that blocked the event loop would let no
// timer fire, and the test would hang: t_node.sh bounds it.)
async function fillRing(p, bytes, settled) {
	for (;;) {
		const pc = p.claim();
		let done = false;
		pc.then(() => { done = true; }, () => { done = true; });
		let ticks = 0;
		await new Promise((resolve) => {
			const timer = setInterval(() => {
				if (!done)
					ticks++;
				if (ticks >= 5 || done) {
					clearInterval(timer);
					resolve();
				}
			}, 10);
		});
		if (!done)
			return { pending: pc, ticks };
		const c = await pc;
		assert.notEqual(c, null);
		h.ramp(c.frame, bytes).copy(c.data);
		p.publish();
		settled.push(c.frame);
	}
}

// Publish the claim C that ended the wait, render every frame left, and
// check render R (h.render): both workers exit 0, the output is the ramp.
async function renderRest(r, c) {
	for (let d = c; d !== null; d = await r.p.claim()) {
		h.ramp(d.frame, r.bytes).copy(d.data);
		r.p.publish();
	}
	await h.rendered(r);
}

// A 16x4 render of N frames through S slots (h.render), its encoder not
// started unless ENCODER.
const ring = (t, N, S, encoder = false) => h.render(t, { size: '16x4', frames: N, slots: S, encoder });

test('claim() on a full ring: timers keep firing; the claim resolves once a slot frees', async (t) => {
	const r = await ring(t, 10, 3);
	const { p, bytes } = r;
	const published = [];
	const { pending, ticks } = await fillRing(p, bytes, published);
	assert.deepEqual(published, [0, 1, 2], 'the ring of 3 slots took 3 frames, then the claim waited');
	assert.ok(ticks >= 5, `a 10 ms timer fired ${ticks} times while claim() waited`);
	// One claim in flight per producer.
	await assert.rejects(p.claim(), { code: 'EBUSY', errno: -16, message: /one at a time/ });
	let woke = false;
	pending.then(() => { woke = true; });
	await h.sleep(50);
	assert.equal(woke, false, 'still waiting: no encoder');
	r.enc = h.startEncoder(t, r.name, r.out);
	const c = await pending;
	assert.equal(c.frame, 3);
	await renderRest(r, c);
});

test('claim() waits while the encoder is SIGSTOPped, and wakes on SIGCONT', async (t) => {
	const N = 30, S = 2;
	const r = await ring(t, N, S, true);
	const { p, bytes, enc } = r;
	// A few frames through a running encoder first.
	for (let i = 0; i < 5; i++) {
		const c = await p.claim();
		h.ramp(c.frame, bytes).copy(c.data);
		p.publish();
	}
	enc.kill('SIGSTOP');
	const published = [];
	const { pending, ticks } = await fillRing(p, bytes, published);
	assert.ok(published.length <= S, `at most ${S} more frames past a stopped encoder (${published})`);
	assert.ok(ticks >= 5, `a 10 ms timer fired ${ticks} times while claim() waited`);
	enc.kill('SIGCONT');
	const c = await pending;
	assert.equal(c.frame, 5 + published.length);
	await renderRest(r, c);
});

test('detach() while claim() waits: the claim rejects EBADF, no frame is lost', async (t) => {
	const r = await ring(t, 8, 2);
	const { p, bytes } = r;
	const published = [];
	const { pending } = await fillRing(p, bytes, published);
	assert.deepEqual(published, [0, 1]);
	p.detach();
	await assert.rejects(pending, { code: 'EBADF', message: /detached while claim\(\) waited/ });
	// The library's waiting thread was stopped, and a frame it may have
	// claimed given back: a new producer renders the rest exactly.
	const q = await attach(r.name);
	t.after(() => q.detach());
	r.enc = h.startEncoder(t, r.name, r.out);
	const seen = [];
	for (let d; (d = await q.claim()) !== null;) {
		seen.push(d.frame);
		h.ramp(d.frame, bytes).copy(d.data);
		q.publish();
	}
	assert.deepEqual(seen, [2, 3, 4, 5, 6, 7]);
	await h.rendered(r, q);
});

test('the broker dies while claim() waits: the claim rejects EOWNERDEAD', async (t) => {
	const { p, broker } = await ring(t, 8, 2);
	const published = [];
	const { pending } = await fillRing(p, p.geometry.frameBytes, published);
	broker.kill('SIGKILL');
	await assert.rejects(pending, { code: 'EOWNERDEAD', errno: -130, message: /broker is gone/ });
	// After that the library says the render is over: either name will do.
	await assert.rejects(p.claim(), (e) => /^(EOWNERDEAD|ECANCELED)$/.test(e.code) && /died|gone/.test(e.message));
});
