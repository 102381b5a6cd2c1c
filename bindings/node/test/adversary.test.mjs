// test/adversary.test.mjs — attacks from outside that once broke a promise
// of the binding: native code that took a Buffer's address before publish
// (an fs.read on the thread pool, waiting on a FIFO) wrote into the slot
// after the ArrayBuffer was detached, i.e. into the next frame held there.
// One slot (--slots 1): every frame is rendered in the same slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { attach } from '../index.mjs';
import * as h from './helpers.mjs';

test('an fs.read in flight at publish cannot write into the next frame', async (t) => {
	const fifo = path.join(h.tmpDir(t), 'fifo');
	execFileSync('mkfifo', [fifo]);
	const W = 8, H = 4;
	const { p, enc, out, bytes: F } = await h.render(t, { size: `${W}x${H}`, frames: 3, slots: 1 });
	const fd = fs.openSync(fifo, fs.constants.O_RDWR); // RDWR: the open does not wait
	t.after(() => fs.closeSync(fd));
	let c = await p.claim();
	c.data.fill(0x11, 0, F);
	// The read waits on the thread pool with c.data's address in hand.
	const read = new Promise((resolve, reject) =>
		fs.read(fd, c.data, 0, F, null, (e, n) => (e ? reject(e) : resolve(n))));
	p.publish();
	c = await p.claim(); // frame 1, in the same slot
	assert.equal(c.frame, 1);
	c.data.fill(0x22, 0, F);
	fs.writeSync(fd, Buffer.alloc(F, 0xee));
	assert.equal(await read, F); // it did write F bytes: somewhere harmless
	assert.deepEqual(c.data.subarray(0, F), Buffer.alloc(F, 0x22));
	p.publish();
	c = await p.claim();
	c.data.fill(0x33, 0, F);
	p.publish();
	assert.equal(await p.claim(), null);
	assert.equal(await h.exitOf(enc), 0);
	assert.deepEqual(h.readOut(out), Buffer.concat([0x11, 0x22, 0x33].map((b) => Buffer.alloc(F, b))));
});

test('a name with a NUL inside is refused, not cut at the NUL', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '4x4', '--frames', '1']);
	// C sees a char* up to the NUL: this would attach to `name` itself.
	await assert.rejects(attach(`${name}\0/other`, { timeout: 0 }), (e) => e.code === 'EINVAL');
	const p = await attach(name, { timeout: 0 }); // the real name still works
	p.detach();
});

test('a raw publish of a wrong length under the slot says why, and keeps the claim', async (t) => {
	const { p, enc, out, bytes: F } = await h.render(t, { size: '4x2', frames: 1, slots: 1 });
	const c = await p.claim();
	c.data.fill(0x55, 0, F);
	for (const bad of [0, F - 1]) // not "over the slot": the slot holds more than F
		assert.throws(() => p.publish(bad), { code: 'EINVAL', message: new RegExp(`exactly ${F} bytes`) });
	assert.equal(p.claimedFrame, 0);
	assert.equal(c.data.length, p.geometry.slotBytes); // still valid
	p.publish();
	assert.equal(await p.claim(), null);
	assert.equal(await h.exitOf(enc), 0);
	assert.deepEqual(h.readOut(out), Buffer.alloc(F, 0x55));
});
