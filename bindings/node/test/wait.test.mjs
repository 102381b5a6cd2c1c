// wait.test.mjs — claim() on a full ring waits without blocking the event
// loop (a timer keeps firing), wakes when the encoder frees a slot, refuses
// a second concurrent claim, and is rejected (not leaked, not a crash) when
// the producer is detached while it waits.  The ring is full because the
// test's own encoder is not started yet, or is SIGSTOPped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { attach } from '../index.mjs';
import * as h from './helpers.mjs';

function outFile(t) {
	const dir = mkdtempSync(path.join(tmpdir(), 'fbnode-'));
	t.after(() => rmSync(dir, { recursive: true, force: true }));
	return path.join(dir, 'out.raw');
}

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
// check the render: both workers exit 0, the output is the ramp of 0..N-1.
async function renderRest(p, c, { enc, broker, out, N }) {
	const bytes = p.geometry.frameBytes;
	for (let d = c; d !== null; d = await p.claim()) {
		h.ramp(d.frame, bytes).copy(d.data);
		p.publish();
	}
	p.detach();
	assert.equal(await h.exitOf(enc), 0);
	assert.equal(await h.exitOf(broker), 0);
	assert.ok(h.readOut(out).equals(h.expected(0, N, bytes)));
}

test('claim() on a full ring: timers keep firing; the claim resolves once a slot frees', async (t) => {
	const name = h.segName();
	const out = outFile(t);
	const N = 10, S = 3;
	const broker = await h.startBroker(t, name, ['--size', '16x4', '--frames', String(N), '--slots', String(S)]);
	const p = await attach(name);
	t.after(() => p.detach());
	const bytes = p.geometry.frameBytes;
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
	const enc = h.startEncoder(t, name, out);
	const c = await pending;
	assert.equal(c.frame, 3);
	await renderRest(p, c, { enc, broker, out, N });
});

test('claim() waits while the encoder is SIGSTOPped, and wakes on SIGCONT', async (t) => {
	const name = h.segName();
	const out = outFile(t);
	const N = 30, S = 2;
	const broker = await h.startBroker(t, name, ['--size', '16x4', '--frames', String(N), '--slots', String(S)]);
	const p = await attach(name);
	t.after(() => p.detach());
	const bytes = p.geometry.frameBytes;
	const enc = h.startEncoder(t, name, out);
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
	await renderRest(p, c, { enc, broker, out, N });
});

test('detach() while claim() waits: the claim rejects EBADF, no frame is lost', async (t) => {
	const name = h.segName();
	const out = outFile(t);
	const N = 8, S = 2;
	const broker = await h.startBroker(t, name, ['--size', '16x4', '--frames', String(N), '--slots', String(S)]);
	const p = await attach(name);
	t.after(() => p.detach());
	const bytes = p.geometry.frameBytes;
	const published = [];
	const { pending } = await fillRing(p, bytes, published);
	assert.deepEqual(published, [0, 1]);
	p.detach();
	await assert.rejects(pending, { code: 'EBADF', message: /detached while claim\(\) waited/ });
	// The library's waiting thread was stopped, and a frame it may have
	// claimed given back: a new producer renders the rest exactly.
	const q = await attach(name);
	t.after(() => q.detach());
	const enc = h.startEncoder(t, name, out);
	const seen = [];
	for (let d; (d = await q.claim()) !== null;) {
		seen.push(d.frame);
		h.ramp(d.frame, bytes).copy(d.data);
		q.publish();
	}
	assert.deepEqual(seen, [2, 3, 4, 5, 6, 7]);
	q.detach();
	assert.equal(await h.exitOf(enc), 0);
	assert.equal(await h.exitOf(broker), 0);
	assert.ok(h.readOut(out).equals(h.expected(0, N, bytes)));
});

test('the broker dies while claim() waits: the claim rejects EOWNERDEAD', async (t) => {
	const name = h.segName();
	const broker = await h.startBroker(t, name, ['--size', '16x4', '--frames', '8', '--slots', '2']);
	const p = await attach(name);
	t.after(() => p.detach());
	const published = [];
	const { pending } = await fillRing(p, p.geometry.frameBytes, published);
	broker.kill('SIGKILL');
	await assert.rejects(pending, { code: 'EOWNERDEAD', errno: -130, message: /broker is gone/ });
	// After that the library says the render is over: either name will do.
	await assert.rejects(p.claim(), (e) => /^(EOWNERDEAD|ECANCELED)$/.test(e.code) && /died|gone/.test(e.message));
});
