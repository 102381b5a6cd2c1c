// node_pipe.js — the approach framebroker replaces, for make bench: a Node.js
// render loop that spawns ffmpeg and writes every frame to its stdin with
// stdin.write(Buffer.from(frame)), awaiting 'drain' whenever write() returns
// false — the pattern render engines use today.  With --no-drain it ignores
// back-pressure, as a careless loop does, and the stream buffer grows.
//
// usage: node node_pipe.js WIDTH HEIGHT FRAMES [--no-drain] -- FFMPEG_OUTPUT_ARGS...
// Frames are rgba, frame i filled with the byte i mod 256 (what
// `fb-producer --source fill` renders).  Prints one JSON line: frames,
// wall_s, cpu_s (this process), max_rss_kb (this process's peak RSS).
'use strict';
const { spawn } = require('child_process');

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const [w, h, n] = argv.slice(0, 3).map(Number);
const drain = !argv.slice(0, sep).includes('--no-drain');
const out = argv.slice(sep + 1);
const size = w * h * 4;
const t0 = process.hrtime.bigint();

const ff = spawn('ffmpeg', ['-hide_banner', '-nostats', '-loglevel', 'error',
	'-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${w}x${h}`, '-framerate', '30',
	'-i', 'pipe:0', ...out], { stdio: ['pipe', 'ignore', 'inherit'] });
const done = new Promise((resolve, reject) => {
	ff.on('exit', (code, sig) => code === 0 ? resolve() :
		reject(new Error(`ffmpeg exited ${code} ${sig || ''}`)));
	ff.on('error', reject);
});

async function main() {
	// The renderer's frame, as a screenshot API hands it over.
	const frame = new Uint8Array(size);
	for (let i = 0; i < n; i++) {
		frame.fill(i & 0xff);
		if (!ff.stdin.write(Buffer.from(frame)) && drain)
			await new Promise((resolve) => ff.stdin.once('drain', resolve));
	}
	ff.stdin.end();
	await done;
	const ru = process.resourceUsage();
	console.log(JSON.stringify({
		frames: n,
		wall_s: Number(process.hrtime.bigint() - t0) / 1e9,
		cpu_s: (ru.userCPUTime + ru.systemCPUTime) / 1e6,
		max_rss_kb: ru.maxRSS,
	}));
}
main().catch((e) => { console.error(`node_pipe: ${e.message}`); process.exit(1); });
