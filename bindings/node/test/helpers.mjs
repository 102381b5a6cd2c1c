// test/helpers.mjs — what the binding's tests share: real fb-broker and
// fb-encoder processes of the test's own (unique segment names under the
// test's FB_TEST_TAG, killed and removed after each test even when it
// fails), a render set up and checked in one call each, and the frames'
// expected bytes computed here, not by framebroker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { attach } from '../index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
export const BIN = process.env.FB_TEST_BIN || path.join(ROOT, 'bin');
const TAG = process.env.FB_TEST_TAG || `fbnode${process.pid}`;
let serial = 0;

// The environment of the framebroker programs the tests start: node's own
// minus LD_PRELOAD, which a sanitizer run sets for node (to load an
// instrumented addon) and which an instrumented program, carrying its own
// copy of the runtime, must not get.
const childEnv = { ...process.env };
delete childEnv.LD_PRELOAD;

// A segment name of this test's own: /TAG-nodePID-N.
export function segName() {
	serial += 1;
	return `/${TAG}-node${process.pid}-${serial}`;
}

// Byte j of frame f is (7f + j) mod 251: the test's own formula.
export function ramp(frame, bytes) {
	const b = Buffer.alloc(bytes);
	for (let j = 0; j < bytes; j++)
		b[j] = (frame * 7 + j) % 251;
	return b;
}

// The expected raw output: frames first..end-1, each computed afresh (not
// the Buffers a test wrote into the slots).
export function expected(first, end, bytes) {
	const parts = [];
	for (let f = first; f < end; f++)
		parts.push(ramp(f, bytes));
	return Buffer.concat(parts);
}

// Start fb-broker for segment NAME with ARGS; resolves once its segment
// exists (--ready-fd).  The process is killed and the segment removed when
// test T ends.
export async function startBroker(t, name, args) {
	const child = spawn(path.join(BIN, 'fb-broker'),
		['--name', name, '--ready-fd', '3', '--log-level', 'error', ...args],
		{ stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: childEnv });
	t.after(() => {
		if (child.exitCode === null && child.signalCode === null)
			child.kill('SIGKILL');
		rmSync(`/dev/shm${name}`, { force: true });
	});
	let text = '';
	child.stdio[3].setEncoding('utf8');
	child.stdio[3].on('data', (d) => { text += d; });
	await Promise.race([
		once(child.stdio[3], 'end'),
		once(child, 'exit').then(([code]) => { throw new Error(`fb-broker exited ${code} before ready`); }),
	]);
	if (!text.startsWith('ready'))
		throw new Error(`fb-broker did not say ready (${JSON.stringify(text)})`);
	return child;
}

// Start fb-encoder draining NAME into the raw file OUT; killed when T ends.
export function startEncoder(t, name, out) {
	const child = spawn(path.join(BIN, 'fb-encoder'),
		['--name', name, '--sink', 'raw', '-o', out, '--log-level', 'error'],
		{ stdio: ['ignore', 'inherit', 'inherit'], env: childEnv });
	t.after(() => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGCONT');
			child.kill('SIGKILL');
		}
	});
	return child;
}

// The exit code (or signal name) of CHILD, once it has exited.
export async function exitOf(child) {
	if (child.exitCode === null && child.signalCode === null)
		await once(child, 'exit');
	return child.exitCode ?? child.signalCode;
}

export function readOut(file) {
	return readFileSync(file);
}

// Resolve after MS milliseconds (timers, so the event loop must run).
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A directory of test T's own, removed when T ends.
export function tmpDir(t) {
	const dir = mkdtempSync(path.join(tmpdir(), 'fbnode-'));
	t.after(() => rmSync(dir, { recursive: true, force: true }));
	return dir;
}

// A render of test T's own: fb-broker for a fresh segment of FRAMES frames
// of SIZE (PIXFMT, default rgba) through SLOTS slots, this process attached
// to it as a producer (detached when T ends) and, unless ENCODER is false
// (start it later with startEncoder(t, r.name, r.out)), fb-encoder writing
// the frames into r.out, a raw file in a directory of T's own.  Returns
// { name, broker, p, enc, out, bytes (a frame's), frames }.
export async function render(t, { size, frames, slots, pixFmt = 'rgba', encoder = true }) {
	const name = segName();
	const broker = await startBroker(t, name, ['--size', size, '--pix-fmt', pixFmt,
		'--frames', String(frames), '--slots', String(slots)]);
	const p = await attach(name);
	t.after(() => p.detach());
	const out = path.join(tmpDir(t), 'out.raw');
	const enc = encoder ? startEncoder(t, name, out) : null;
	return { name, broker, p, enc, out, bytes: p.geometry.frameBytes, frames };
}

// The end of render R (render() above) whose producer P (R's own unless
// given) rendered the ramp: P detached, the encoder and the broker exit 0,
// and the output is every frame of the ramp, byte for byte.
export async function rendered(r, p = r.p) {
	p.detach();
	assert.equal(await exitOf(r.enc), 0);
	assert.equal(await exitOf(r.broker), 0);
	assert.ok(readOut(r.out).equals(expected(0, r.frames, r.bytes)), 'output differs from the formula');
}
