// example.mjs — a framebroker producer in Node, the binding's smallest whole
// program (README.md shows it):
//
//	fb-render --workers 2 --source 'attach:node bindings/node/example.mjs' -o out.mp4
//	node bindings/node/example.mjs /NAME-OF-A-RUNNING-RENDER
//
// Its "renderer" draws the ramp of examples/producer.c: byte j of frame f is
// (7f + j) mod 251, so a test can check the output without it.
// --give-back-at F: on claiming frame F or a later one, give it back and exit 4 (fb-render
// then starts a replacement that renders it): the restart contract.
// Exit: 0 no frame left; 1 an error; 3 the render was aborted; 4 see above.
import { attach, RESTART_EXIT_CODE } from './index.mjs';

const args = process.argv.slice(2);
let giveBackAt = null;
if (args[0] === '--give-back-at') {
	giveBackAt = Number(args[1]);
	args.splice(0, 2);
}

let p;
try {
	p = await attach(args[0]); // no name: the render that started us
} catch (e) {
	console.error(`example.mjs: ${e.message}`);
	process.exit(1);
}
const { frameBytes } = p.geometry;
try {
	for await (const { frame, data } of p) {
		if (giveBackAt !== null && frame >= giveBackAt) {
			p.abortClaim();
			p.detach();
			process.exit(RESTART_EXIT_CODE);
		}
		for (let j = 0; j < frameBytes; j++)
			data[j] = (frame * 7 + j) % 251;
		p.publish(); // frameBytes: a raw frame
	}
} catch (e) {
	console.error(`example.mjs: ${e.message}`);
	process.exit(e.code === 'ECANCELED' ? 3 : 1);
}
p.detach();
