//! How the app asks for a path: the system's file dialog on its own thread while the window keeps
//! drawing, or, once no dialog could be shown (or when `LANTERN_TYPED_PATHS` is set), the
//! typed-path window, saying why. Either way the answer becomes the entry's command.

use super::LanternApp;
use super::commands::Command;
#[cfg(not(target_arch = "wasm32"))]
use super::dialogs::{DialogAnswer, Dialogs};
use super::model::ModelSource;
use super::pair_jobs::{EmbeddingChoice, SimilaritySource};
#[cfg(not(target_arch = "wasm32"))]
use super::path_prompt::PathPrompt;
use super::path_prompt::PathRequest;
use std::path::PathBuf;

/// Why the typed-path window is shown when the dialogs were turned off.
#[cfg(not(target_arch = "wasm32"))]
const SKIPPED: &str = "File dialogs are turned off (LANTERN_TYPED_PATHS is set): type the path.";
/// Why it is shown when no dialog could be shown.
#[cfg(not(target_arch = "wasm32"))]
const UNAVAILABLE: &str = "No file dialog could be shown (this desktop has no xdg-desktop-portal \
                           and no zenity): type the path.";

/// What a path answered becomes: the command to apply, or the next question.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    Apply(Command),
    Ask(PathRequest),
}

/// What the chosen `paths` (at least one) answer to `request` become.
pub fn answered(request: PathRequest, mut paths: Vec<PathBuf>) -> Answered {
    let first = paths.first().cloned().unwrap_or_default();
    Answered::Apply(match request {
        PathRequest::OpenImages => Command::OpenPaths(paths),
        PathRequest::OpenFolder => Command::OpenPaths(vec![first]),
        PathRequest::OpenModel => Command::OpenModel(ModelSource::File(first)),
        PathRequest::AuditData => return Answered::Ask(PathRequest::AuditFile { data: paths.swap_remove(0) }),
        PathRequest::AuditFile { data } => Command::NewAudit { data, file: first },
        PathRequest::OpenAudit => Command::OpenAudit(first),
        PathRequest::OpenPlaylist => Command::OpenPlaylist(first),
        PathRequest::TokenFile => Command::SetTokenFile(first),
        PathRequest::Animation { sweep } => Command::ExportAnimation { sweep, file: first },
        PathRequest::EmbeddingModel { attributes } => Command::ChooseSimilarityModels(Some(SimilaritySource {
            embedding: EmbeddingChoice::File(first),
            attributes,
        })),
        PathRequest::AttributeModel { current } => {
            Command::ChooseSimilarityModels(Some(SimilaritySource { attributes: Some(first), ..current }))
        }
        PathRequest::ExportView => Command::ExportView(first),
        PathRequest::SaveAll => Command::SaveAll(first),
    })
}

/// Ask `request`: in a dialog while dialogs can be shown, else in the typed-path window. The web
/// page asks the browser for files to open; it has no paths to ask for otherwise.
#[cfg(target_arch = "wasm32")]
pub fn ask(app: &mut LanternApp, request: PathRequest) {
    match super::web_cuts::cut(&request) {
        Some(reason) => app.state.toasts.error(reason.to_string()),
        None => app.given.pick(request.dialog(), app.repaint_handle()),
    }
}

/// Ask `request`: in a dialog while dialogs can be shown, else in the typed-path window.
#[cfg(not(target_arch = "wasm32"))]
pub fn ask(app: &mut LanternApp, request: PathRequest) {
    if app.dialogs.is_open() {
        return app.state.toasts.error("a file dialog is already open");
    }
    if Dialogs::<PathRequest>::skipped() {
        app.state.path_prompt = Some(PathPrompt::new(request, SKIPPED));
    } else if app.no_dialogs {
        app.state.path_prompt = Some(PathPrompt::new(request, UNAVAILABLE));
    } else {
        let spec = request.dialog();
        let repaint = app.repaint_handle();
        app.dialogs.show(request, spec, repaint);
    }
}

/// Apply the answer of the dialog that ended, if one did.
#[cfg(not(target_arch = "wasm32"))]
pub fn poll(app: &mut LanternApp, ctx: &egui::Context) {
    let Some((request, answer)) = app.dialogs.poll() else { return };
    match answer {
        DialogAnswer::Picked(paths) => follow(app, answered(request, paths), ctx),
        DialogAnswer::Cancelled => {}
        DialogAnswer::Unavailable => {
            // Said on the terminal too, for whoever started the app from one (and for scripts).
            eprintln!("lantern: {UNAVAILABLE}");
            app.no_dialogs = true;
            app.state.path_prompt = Some(PathPrompt::new(request, UNAVAILABLE));
        }
    }
}

/// Use the typed path, or say in the window why it cannot be used.
pub fn answer_prompt(app: &mut LanternApp, ctx: &egui::Context) {
    let Some(prompt) = app.state.path_prompt.as_mut() else { return };
    let path = prompt.path();
    if let Some(refused) = prompt.request.refuse(&path) {
        prompt.refused = Some(refused);
        return;
    }
    let request = prompt.request.clone();
    app.state.path_prompt = None;
    follow(app, answered(request, vec![path]), ctx);
}

/// Apply the command, or ask the next question the same way the first was asked.
fn follow(app: &mut LanternApp, answered: Answered, ctx: &egui::Context) {
    match answered {
        Answered::Apply(command) => app.apply(command, ctx),
        Answered::Ask(next) => ask(app, next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_audit_asks_for_its_dataset_then_its_file() {
        let (data, file) = (PathBuf::from("data"), PathBuf::from("a.db"));
        let next = answered(PathRequest::AuditData, vec![data.clone()]);
        assert_eq!(next, Answered::Ask(PathRequest::AuditFile { data: data.clone() }));
        let Answered::Ask(second) = next else { unreachable!() };
        assert_eq!(answered(second, vec![file.clone()]), Answered::Apply(Command::NewAudit { data, file }));
        assert_eq!(
            answered(PathRequest::OpenAudit, vec![PathBuf::from("x.db")]),
            Answered::Apply(Command::OpenAudit(PathBuf::from("x.db")))
        );
    }

    #[test]
    fn the_pair_views_models_and_the_token_file_are_asked_like_the_file_menus_paths() {
        let (emb, attr, token) = (PathBuf::from("e.safetensors"), PathBuf::from("a.safetensors"), PathBuf::from("t"));
        let chosen = SimilaritySource { embedding: EmbeddingChoice::File(emb.clone()), attributes: Some(attr.clone()) };
        assert_eq!(
            answered(PathRequest::EmbeddingModel { attributes: Some(attr.clone()) }, vec![emb.clone()]),
            Answered::Apply(Command::ChooseSimilarityModels(Some(chosen.clone())))
        );
        let before = SimilaritySource { embedding: EmbeddingChoice::File(emb), attributes: None };
        assert_eq!(
            answered(PathRequest::AttributeModel { current: before }, vec![attr]),
            Answered::Apply(Command::ChooseSimilarityModels(Some(chosen)))
        );
        assert_eq!(
            answered(PathRequest::TokenFile, vec![token.clone()]),
            Answered::Apply(Command::SetTokenFile(token))
        );
    }
}
