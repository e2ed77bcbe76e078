// The page's compute worker: the same wasm module as the page, running the explanations the
// page sends it (src/app/offload.rs) so that the page never freezes while they compute.
import init, { worker_start } from "./lantern.js";

await init();
worker_start();
