// The page's compute worker: the same wasm module as the page, running the explanations the
// page sends it (src/app/offload.rs) so that the page never freezes while they compute.
//
// On WebGPU a tensor is read back asynchronously, while Lantern's methods read tensors where
// they need them. JavaScript Promise Integration (JSPI) bridges the two (src/device/wait.rs): the
// module's import `lanternWait` is wrapped in WebAssembly.Suspending and its export
// `worker_handle` in WebAssembly.promising, so a job waiting for the GPU suspends its wasm stack
// while this worker's event loop runs. wasm-bindgen's glue instantiates the module; the wrapping
// is done on the way through WebAssembly.instantiateStreaming (or instantiate, its fallback).
import init, { worker_start, worker_handle } from "./lantern.js";

const jspi = typeof WebAssembly.Suspending === "function" && typeof WebAssembly.promising === "function";
if (jspi) {
  const suspending = (imports) => {
    for (const space of Object.values(imports)) {
      for (const name of Object.keys(space)) {
        if (name.startsWith("__wbg_lanternWait_")) space[name] = new WebAssembly.Suspending(space[name]);
      }
    }
    return imports;
  };
  // A job that fails inside a suspended stack rejects its promise: report it as the worker's
  // error, which the page shows (an uncaught error does that without JSPI).
  const promising = ({ instance, module }) => {
    const run = WebAssembly.promising(instance.exports.worker_handle);
    const handle = (...args) => { run(...args).catch((e) => setTimeout(() => { throw e; })); };
    return { instance: { exports: { ...instance.exports, worker_handle: handle } }, module };
  };
  const streaming = WebAssembly.instantiateStreaming;
  const bytes = WebAssembly.instantiate;
  WebAssembly.instantiateStreaming = async (source, imports) => promising(await streaming(source, suspending(imports)));
  WebAssembly.instantiate = async (source, imports) => promising(await bytes(source, suspending(imports)));
}
// Settles when the job's read is woken, or after 20 ms (then the job polls the read again).
self.lanternWait = (woken) => Promise.race([woken, new Promise((r) => setTimeout(r, 20))]);

await init();
self.onmessage = (event) => worker_handle(event.data);
// What the browser offers for GPU compute; worker_start chooses (the page's `?device=`).
const adapter = jspi && navigator.gpu ? await navigator.gpu.requestAdapter().catch(() => null) : null;
const info = adapter?.info;
const name = info ? [info.vendor, info.architecture, info.description].filter((s) => s).join(" ") : undefined;
await worker_start(adapter ? name || "unnamed adapter" : undefined, !!info?.isFallbackAdapter, jspi);
