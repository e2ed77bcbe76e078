//! The web page's entry points (`web/build.sh` builds them): the same explorer as the desktop's,
//! started on the page's canvas by `web/index.html`, and its compute worker, started in a Web
//! Worker by `web/worker.js`. What a page cannot do is listed in
//! [`crate::app::web_cuts`].

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The explorer running on a page: keeps eframe's runner alive for as long as the page holds it.
#[wasm_bindgen]
pub struct WebHandle {
    runner: eframe::WebRunner,
}

#[wasm_bindgen]
impl WebHandle {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self { runner: eframe::WebRunner::new() }
    }

    /// Start the explorer on the canvas with id `canvas_id`, on the demo model and images (or
    /// what the page's last visit left open, kept in the browser's local storage).
    pub async fn start(&self, canvas_id: &str) -> Result<(), JsValue> {
        let canvas = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(canvas_id))
            .ok_or_else(|| JsValue::from_str(&format!("the page has no element #{canvas_id}")))?
            .dyn_into::<web_sys::HtmlCanvasElement>()?;
        let options = eframe::WebOptions::default();
        self.runner
            .start(
                canvas,
                options,
                Box::new(|cc| Ok(Box::new(crate::app::LanternApp::new(cc, crate::app::Launch::default())))),
            )
            .await
    }

    /// The panic message, if the app panicked (the page shows it instead of a frozen canvas).
    pub fn panic_message(&self) -> Option<String> {
        self.runner.panic_summary().map(|s| s.message())
    }
}

/// The compute worker's entry point: `web/worker.js` calls it once the module is loaded in the
/// Web Worker the page started ([`crate::app::offload`]).
#[wasm_bindgen]
pub fn worker_start() {
    crate::app::offload::serve();
}

impl Default for WebHandle {
    fn default() -> Self {
        Self::new()
    }
}
