// frames.test.mjs — frames written straight into the slots reach the
// encoder byte for byte (fb-encoder --sink raw; the expected bytes computed
// here from the test's formula); a Buffer is unusable once its claim is
// over; an aborted frame is rendered anyway; the end is null.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

test('zero-copy claim/publish: the encoder writes exactly the bytes put in data', async (t) => {
	const W = 24, H = 10, N = 40;
	const r = await h.render(t, { size: `${W}x${H}`, frames: N, slots: 2 });
	const { p, bytes } = r;
	assert.equal(bytes, W * H * 4);
	const stale = [];
	const seen = [];
	let c;
	while ((c = await p.claim()) !== null) {
		seen.push(c.frame);
		assert.equal(c.data.length, p.geometry.slotBytes);
		assert.equal(p.claimedFrame, c.frame);
		for (let j = 0; j < bytes; j++) // into the slot itself
			c.data[j] = (c.frame * 7 + j) % 251;
		p.publish();
		assert.equal(p.claimedFrame, null);
		// The Buffer is detached: length 0, and writes through it go
		// nowhere (index stores are dropped, fill/set throw), though
		// its slot is reused two frames later.
		assert.equal(c.data.length, 0);
		assert.equal(c.data.buffer.byteLength, 0);
		stale.push(c.data);
		for (const s of stale) {
			s[0] = 0xee;
			s[100] = 0xee;
			assert.throws(() => s.fill(0xee), TypeError);
			assert.throws(() => s.set([0xee]), TypeError);
			assert.throws(() => new Uint8Array(s.buffer).fill(0xee), TypeError);
		}
		assert.equal(c.data[0], undefined);
	}
	assert.deepEqual(seen, [...Array(N).keys()]);
	assert.equal(await p.claim(), null, 'the end stays the end');
	await h.rendered(r);
});

test('abortClaim: the frame is given back, rendered later, the output complete', async (t) => {
	const r = await h.render(t, { size: '8x8', pixFmt: 'gray', frames: 12, slots: 3 });
	const { p, bytes } = r;
	const seen = [];
	let aborted = null;
	let c;
	while ((c = await p.claim()) !== null) {
		seen.push(c.frame);
		if (c.frame === 5 && aborted === null) {
			c.data.fill(0x55); // half-rendered garbage, then given back
			p.abortClaim();
			aborted = c.frame;
			assert.equal(c.data.length, 0);
			assert.equal(p.claimedFrame, null);
			continue;
		}
		h.ramp(c.frame, bytes).copy(c.data);
		p.publish(bytes);
	}
	assert.equal(aborted, 5);
	assert.equal(seen.filter((f) => f === 5).length, 2, `frame 5 claimed twice (${seen})`);
	assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), [...Array(r.frames).keys()]);
	await h.rendered(r);
});

test('for await: every frame, in order, published by the loop body; then the loop ends', async (t) => {
	const r = await h.render(t, { size: '4x4', pixFmt: 'rgb24', frames: 9, slots: 2 });
	const seen = [];
	for await (const { frame, data } of r.p) {
		seen.push(frame);
		h.ramp(frame, r.bytes).copy(data);
		r.p.publish();
	}
	assert.deepEqual(seen, [...Array(r.frames).keys()]);
	await h.rendered(r);
});
