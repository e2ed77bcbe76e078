//! Waiting for the GPU in the web page's compute worker.
//!
//! A browser reads a GPU buffer back only asynchronously (WebGPU's `mapAsync`), while Lantern's
//! methods read a tensor where they need its values, synchronously. The compute worker bridges
//! the two with JavaScript Promise Integration (JSPI, a WebAssembly standard in Chromium since
//! version 137): `web/worker.js` runs each job through `WebAssembly.promising`, and
//! [`block_on`] polls the read; while it is not ready, it calls `lanternWait`, an import wrapped in
//! `WebAssembly.Suspending`, which suspends the job's wasm stack until the read's waker fires. The
//! worker's event loop runs meanwhile and delivers the GPU's answer. On the CPU (burn Flex) every
//! read is ready at once and nothing is suspended.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `web/worker.js`'s `lanternWait(woken)`: a promise settled when `woken` is, or after a few
    /// milliseconds at most. Imported through `WebAssembly.Suspending`: the calling wasm stack
    /// waits for it.
    #[wasm_bindgen(js_name = lanternWait)]
    fn lantern_wait(woken: &js_sys::Promise) -> JsValue;
}

thread_local! {
    /// Whether this thread's jobs run on a suspendable stack (set by the compute worker).
    static SUSPENDABLE: Cell<bool> = const { Cell::new(false) };
    /// Resolves the promise the suspended stack waits for.
    static RESOLVE: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Say that this thread's jobs run on a stack JSPI can suspend (the compute worker, when the
/// browser has JSPI).
pub fn set_suspendable(suspendable: bool) {
    SUSPENDABLE.set(suspendable);
}

/// Wakes the waiting stack: resolves the promise `lanternWait` was given.
struct PageWaker;

impl Wake for PageWaker {
    fn wake(self: Arc<Self>) {
        if let Some(resolve) = RESOLVE.with(|r| r.borrow_mut().take()) {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Run `future` to its end on this thread: poll it, and while it is pending suspend the wasm
/// stack until it is woken.
///
/// # Panics
/// If the future is pending on a thread whose stack cannot be suspended: the compute worker uses
/// the GPU only where it can (see `crate::device::choose_in_worker`), so this is a bug.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(PageWaker));
    loop {
        let mut resolve = None;
        let woken = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
        RESOLVE.with(|slot| *slot.borrow_mut() = resolve);
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            RESOLVE.with(|slot| slot.borrow_mut().take());
            return output;
        }
        assert!(
            SUSPENDABLE.get(),
            "a tensor read must wait for the GPU on a stack that cannot be suspended (no JSPI here)"
        );
        lantern_wait(&woken);
    }
}
