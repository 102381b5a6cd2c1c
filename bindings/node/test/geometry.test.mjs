// geometry.test.mjs — producer.geometry against the options fb-broker was
// started with (the expected values written here, from those options).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../index.mjs';
import * as h from './helpers.mjs';

test('geometry of a raw render: every field from the broker options', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '40x30', '--pix-fmt', 'yuv420p', '--fps', '30000/1001',
		'--frames', '50', '--slots', '5']);
	const p = await attach(name);
	t.after(() => p.detach());
	const g = p.geometry;
	assert.deepEqual({ ...g, slotBytes: undefined }, {
		width: 40, height: 30, pixFmt: 'yuv420p', fps: 30, fpsNum: 30000, fpsDen: 1001, slots: 5,
		frames: 50, frameBytes: 40 * 30 + 2 * 20 * 15, slotBytes: undefined, frameFormat: 'raw',
		first: 0, end: 50,
	});
	assert.ok(g.slotBytes >= g.frameBytes, `slotBytes ${g.slotBytes} >= frameBytes ${g.frameBytes}`);
	assert.ok(Object.isFrozen(g));
});

test('geometry of a --range chunk of jpeg frames', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '32x16', '--frames', '100', '--range', '20:35',
		'--frame-format', 'jpeg', '--slot-bytes', '10000', '--fps', '25', '--slots', '2']);
	const p = await attach(name, { timeout: 1000 });
	t.after(() => p.detach());
	const g = p.geometry;
	assert.equal(g.frameFormat, 'jpeg');
	assert.equal(g.frames, 100);
	assert.equal(g.first, 20);
	assert.equal(g.end, 35);
	assert.equal(g.fps, 25);
	assert.equal(g.frameBytes, 32 * 16 * 4);
	assert.ok(g.slotBytes >= 10000, `slotBytes ${g.slotBytes}`);
	assert.throws(() => p.publish(), { name: 'TypeError', message: /jpeg frame needs its length/ });
	// The first claimed frame is the chunk's first, numbered in the whole render.
	const c = await p.claim();
	assert.equal(c.frame, 20);
	assert.equal(c.data.length, g.slotBytes);
	p.abortClaim();
});
