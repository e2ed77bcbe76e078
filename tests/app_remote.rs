//! The app computing on a `lantern serve` (a separate process on 127.0.0.1), driven in
//! egui_kittest as a user would: Compute ▸ Connect to a server…, the map computed there equals the
//! local one, the status bar names the server; the server killed, the app falls back to the local
//! device with a message and keeps the open image and settings, and explains again locally.

#[path = "common/ui.rs"]
mod ui;

#[path = "common/serve.rs"]
mod serve;

use egui_kittest::kittest::Queryable;
use lantern::app::Launch;
use lantern::app::commands::Command;
use lantern::app::settings::ServerChoice;
use lantern::explain::Method;
use serve::Server;
use std::time::Duration;
use ui::{explained, harness, wait_for};

#[test]
fn the_app_computes_on_a_server_and_falls_back_when_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo's first explanation, computed here", explained);
    let local_device = h.state().ui_state().machine.compute.clone();
    let image = h.state().gallery().current().unwrap().id;
    let local = h.state().main().output().unwrap().map.values.clone();

    let mut server = Server::websocket(dir.path());
    h.get_by_label("Compute").click();
    h.run_steps(2);
    h.get_by_label("Connect to a server…").click();
    h.run_steps(2);
    let address = server.device.trim_start_matches("remote:").to_string();
    ui::command(&mut h, Command::EditConnect(ServerChoice { address, token_file: server.token.clone() }));
    h.get_by_label("Connect").click();
    wait_for(&mut h, "the map computed on the server", |a| {
        a.ui_state().machine.compute.starts_with("remote:") && explained(a)
    });
    assert!(server.wait_for("session opened", 1, Duration::from_secs(10)), "{}", server.log());
    let app = h.state();
    let remote = &app.main().output().unwrap().map.values;
    let worst = local.iter().zip(remote).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "the server's map differs from the local one by {worst}");
    assert_eq!(app.gallery().current().unwrap().id, image);
    assert_eq!(app.settings().server.token_file, server.token, "the server is remembered for next time");
    assert!(h.query_all_by_label_contains("Compute: remote: ws://127.0.0.1:").next().is_some(), "the status bar");

    // The server goes away; the next map asked for fails there, and the app falls back.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    ui::edit_settings(&mut h, |s| s.method = Method::GradCamPlusPlus);
    wait_for(&mut h, "the fall back to this machine", |a| {
        a.ui_state().machine.compute == local_device && a.toasts().last_error().is_some_and(|e| e.contains("Lost"))
    });
    wait_for(&mut h, "Grad-CAM++ computed here again", |a| {
        explained(a) && a.main().output().unwrap().method == Method::GradCamPlusPlus
    });
    let app = h.state();
    assert_eq!(app.gallery().current().unwrap().id, image, "the open image stays");
    assert_eq!(app.settings().method, Method::GradCamPlusPlus, "the settings stay");
    assert!(h.query_all_by_label(&format!("Compute: {local_device}")).next().is_some(), "the status bar");
}

#[test]
fn a_wrong_token_is_an_error_and_the_app_stays_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::websocket(dir.path());
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo's first explanation", explained);
    let local_device = h.state().ui_state().machine.compute.clone();
    ui::command(&mut h, Command::ShowConnect(true));
    let address = server.device.trim_start_matches("remote:").to_string();
    ui::command(&mut h, Command::EditConnect(ServerChoice { address, token_file: wrong }));
    ui::command(&mut h, Command::Connect);
    wait_for(&mut h, "the refusal", |a| a.toasts().last_error().is_some_and(|e| e.contains("refused the token")));
    assert_eq!(h.state().ui_state().machine.compute, local_device);
    assert!(explained(h.state()), "the map stays");
}
