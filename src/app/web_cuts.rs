//! What the web page cannot do, and why. The page shows the desktop's menu entries for these
//! disabled, with the reason as their hover text, so nothing is hidden: a page has no folders or
//! paths, writes no files, keeps no SQLite audit store, has no camera access in this build and no
//! background threads for training, and computes in the browser rather than on a server.

use super::path_prompt::PathRequest;

/// Whether this is the web build.
pub const IN_BROWSER: bool = cfg!(target_arch = "wasm32");

pub const NO_FOLDERS: &str = "A web page cannot read folders or datasets: drop images on the page, or use Open images…";
pub const NO_AUDITS: &str =
    "Audits live in a SQLite file on disk, which a web page cannot keep: audit in the desktop app";
pub const NO_WRITES: &str = "The web page writes no files: export from the desktop app";
pub const NO_PLAYLISTS: &str = "A talk's playlist names files on disk, which a web page cannot open";
pub const NO_CAMERA: &str = "The web build does not read cameras: use the desktop app (`lantern open --camera`)";
pub const NO_TRAINING: &str =
    "Training runs for minutes on background threads, which the web page does not have: use the desktop app";
pub const NO_SERVERS: &str = "The web page computes in the browser; reach a `lantern serve` from the desktop app";
pub const NO_SIMILARITY_FILES: &str = "Similarity models are found beside a model file on disk: use the desktop app";

/// Why `request` is not offered on the web page; `None` on the desktop, where all are.
pub fn cut(request: &PathRequest) -> Option<&'static str> {
    if !IN_BROWSER {
        return None;
    }
    match request {
        PathRequest::OpenImages | PathRequest::OpenModel => None,
        PathRequest::OpenFolder => Some(NO_FOLDERS),
        PathRequest::AuditData | PathRequest::AuditFile { .. } | PathRequest::OpenAudit => Some(NO_AUDITS),
        PathRequest::OpenPlaylist => Some(NO_PLAYLISTS),
        PathRequest::TokenFile => Some(NO_SERVERS),
        PathRequest::EmbeddingModel { .. } | PathRequest::AttributeModel { .. } => Some(NO_SIMILARITY_FILES),
        PathRequest::Animation { .. } | PathRequest::ExportView | PathRequest::SaveAll => Some(NO_WRITES),
    }
}

/// `reason` on the web page, `None` on the desktop.
pub fn on_web(reason: &'static str) -> Option<&'static str> {
    IN_BROWSER.then_some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desktop_cuts_nothing() {
        assert_eq!(cut(&PathRequest::OpenAudit), None);
        assert_eq!(cut(&PathRequest::SaveAll), None);
        assert_eq!(on_web(NO_CAMERA), None);
    }
}
