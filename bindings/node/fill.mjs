// fill.mjs — the cheapest Node renderer: every byte of frame i is i mod 256
// (what fb-render --source fill draws in C, and examples/python/numpy_fill.py
// in numpy), so the cost of the binding itself can be measured with the
// render held constant (docs/performance.md, "The revocable view"):
//
//	fb-render --size 1920x1080 --workers 1 --sink raw -o /dev/null \
//		--source 'attach:node bindings/node/fill.mjs [--keep]'
//
// --keep: keep each frame's Buffer past publish (as a loop that stores it
// does).  Either way the claim's end cuts the Buffer's memory off the slot
// (nothing tells the binding a Buffer is unreachable before the collector
// runs); --keep makes sure no collection can spare the cut.
import { attach } from './index.mjs';

const keep = process.argv[2] === '--keep';
const p = await attach();
let kept = null;
for await (const { frame, data } of p) {
	data.fill(frame & 0xff, 0, p.geometry.frameBytes);
	if (keep)
		kept = data; // alive at publish
	p.publish();
}
p.detach();
if (kept !== null && kept.length !== 0)
	process.exit(1); // a kept Buffer is detached by the publish (length 0)
