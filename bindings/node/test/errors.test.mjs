// errors.test.mjs — every error is an Error with the errno name as code and
// the negative errno as errno: a bad name, publish without a claim, a
// length over the slot (the claim stays usable, also when its view cannot
// be put back: a fresh Buffer on the error), a failed render
// (ECANCELED with its reason), a detached producer, a loop body that
// neither publishes nor aborts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { attach } from '../index.mjs';
import * as h from './helpers.mjs';

test('attach to a name nobody renders: ENOENT after the timeout', async () => {
	const name = h.segName();
	await assert.rejects(attach(name, { timeout: 50 }), (e) => {
		assert.ok(e instanceof Error);
		assert.equal(e.code, 'ENOENT');
		assert.equal(e.errno, -2);
		assert.match(e.message, /no such segment/);
		assert.ok(e.message.includes(name), e.message);
		return true;
	});
	await assert.rejects(attach('bad/name', { timeout: 0 }), { code: 'EINVAL', errno: -22 });
	await assert.rejects(attach(42), TypeError);
});

test('attach() without a name and no FB_SEGMENT: EDESTADDRREQ', async () => {
	const saved = { seg: process.env.FB_SEGMENT, fd: process.env.FB_FD };
	delete process.env.FB_SEGMENT;
	delete process.env.FB_FD;
	try {
		await assert.rejects(attach(), { code: 'EDESTADDRREQ', message: /FB_SEGMENT is not set/ });
	} finally {
		if (saved.seg !== undefined) process.env.FB_SEGMENT = saved.seg;
		if (saved.fd !== undefined) process.env.FB_FD = saved.fd;
	}
});

test('publish and abortClaim without a claim, a length over the slot', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '8x8', '--frames', '5', '--slots', '2']);
	const p = await attach(name);
	t.after(() => p.detach());
	const g = p.geometry;
	assert.throws(() => p.publish(), { code: 'EINVAL', errno: -22, message: /no frame is claimed/ });
	assert.throws(() => p.abortClaim(), { code: 'EINVAL', message: /no frame is claimed/ });
	assert.throws(() => p.publish(-1), TypeError);
	assert.throws(() => p.publish(1.5), TypeError);
	assert.throws(() => p.publish(2 ** 70), TypeError);
	assert.throws(() => p.publish(NaN), TypeError);
	const c = await p.claim();
	assert.equal(c.frame, 0);
	assert.throws(() => p.publish(g.slotBytes + 1), { code: 'EINVAL', message: /over the slot/ });
	// Still ours: the Buffer works and a right length publishes.
	assert.equal(p.claimedFrame, 0);
	assert.equal(c.data.length, g.slotBytes);
	c.data[0] = 1;
	p.publish(g.frameBytes);
	assert.equal(c.data.length, 0);
	assert.throws(() => p.publish(), { code: 'EINVAL' });
});

// The child of the next test: attach to process.argv[1], claim, write
// through the Buffer, publish a refused length with the view's way back
// denied (deny_fixed_remap.py): EFAULT, the frame still claimed, its new
// Buffer on the error (the old one detached), and it publishes.
const publishUnrestorable = `
import { attach } from ${JSON.stringify(new URL('../index.mjs', import.meta.url).href)};
const p = await attach(process.argv[1]);
const g = p.geometry;
const c = await p.claim();
c.data.fill(7);
let e = null;
try { p.publish(g.slotBytes + 1); } catch (err) { e = err; }
const data = e && e.data;
const seen = { code: e && e.code, held: p.claimedFrame, old: c.data.length,
	fresh: data ? data.length : -1, slotBytes: g.slotBytes, carried: data ? data[0] : -1 };
if (data) { data.fill(9); p.publish(g.frameBytes); }
seen.after = p.claimedFrame;
console.log(JSON.stringify(seen));
p.detach();
`;

test('publish: a refused length whose view cannot be put back (EFAULT) keeps the claim, a new Buffer on the error', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '8x8', '--frames', '3', '--slots', '2']);
	const env = { ...process.env };
	delete env.LD_PRELOAD; // python must not get a sanitizer runtime: the helper hands it on
	if (process.env.LD_PRELOAD)
		env.FB_PRELOAD = process.env.LD_PRELOAD;
	const child = spawn('python3', [path.join(h.ROOT, 'tests/helpers/deny_fixed_remap.py'), process.execPath,
		'--input-type=module', '-e', publishUnrestorable, name], { stdio: ['ignore', 'pipe', 'inherit'], env });
	let out = '';
	child.stdout.setEncoding('utf8');
	child.stdout.on('data', (d) => { out += d; });
	const code = await h.exitOf(child);
	if (code === 3) {
		t.skip('no seccomp filter here: the failure cannot be forced');
		return;
	}
	assert.equal(code, 0, out);
	const seen = JSON.parse(out);
	// fb_publish said EFAULT, the claim went on: frame 0 still held, over a
	// fresh Buffer of the whole slot (the view lost what was written: a
	// new alias of the slot holds it — 7 — and the old Buffer is detached).
	assert.deepEqual(seen, { code: 'EFAULT', held: 0, old: 0, fresh: seen.slotBytes,
		slotBytes: seen.slotBytes, carried: 7, after: null });
});

test('fail(reason): the render ends, claims reject ECANCELED with the reason', async (t) => {
	const name = h.segName();
	const broker = await h.startBroker(t, name, ['--size', '8x8', '--frames', '5', '--slots', '2']);
	const p = await attach(name);
	t.after(() => p.detach());
	const c = await p.claim();
	assert.equal(p.fail(`frame ${c.frame} cannot be drawn (test)`), true);
	assert.equal(p.fail('again'), false, 'the first failure wins');
	await assert.rejects(p.claim(), (e) => {
		assert.equal(e.code, 'ECANCELED');
		assert.equal(e.errno, -125);
		assert.match(e.message, /aborted: frame 0 cannot be drawn \(test\)/);
		return true;
	});
	assert.equal(c.data.length, 0, 'the next claim ended the old one');
	p.detach();
	assert.equal(await h.exitOf(broker), 3, 'fb-broker: render aborted');
});

test('a detached producer: EBADF everywhere, detach() again is harmless', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '8x8', '--frames', '5', '--slots', '2']);
	const p = await attach(name);
	const c = await p.claim();
	p.detach();
	assert.equal(c.data.length, 0, 'the held frame\'s Buffer is detached with the producer');
	p.detach();
	await assert.rejects(p.claim(), { code: 'EBADF', errno: -9, message: /detached/ });
	assert.throws(() => p.publish(), { code: 'EBADF' });
	assert.throws(() => p.abortClaim(), { code: 'EBADF' });
	assert.throws(() => p.fail('x'), { code: 'EBADF' });
	assert.equal(p.claimedFrame, null);
	// The frame it held was given back: a second producer gets frame 0.
	const q = await attach(name);
	t.after(() => q.detach());
	const d = await q.claim();
	assert.equal(d.frame, 0);
});

test('for await: a body that neither publishes nor aborts gets EINVAL, the frame given back', async (t) => {
	const name = h.segName();
	await h.startBroker(t, name, ['--size', '8x8', '--frames', '5', '--slots', '2']);
	const p = await attach(name);
	t.after(() => p.detach());
	const seen = [];
	await assert.rejects((async () => {
		for await (const { frame } of p)
			seen.push(frame); // forgot to publish
	})(), { code: 'EINVAL', message: /frame 0 was neither published nor given back/ });
	assert.deepEqual(seen, [0]);
	assert.equal(p.claimedFrame, null);
	// break leaves no frame held either.
	for await (const { frame } of p) {
		assert.equal(frame, 0, 'the frame given back comes again');
		break;
	}
	assert.equal(p.claimedFrame, null);
	const c = await p.claim();
	assert.equal(c.frame, 0);
});
