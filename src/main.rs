//! The `lantern` binary: with a subcommand, the headless CLI; without one (or with `open`), the
//! desktop app. The choice is made here, so the CLI never depends on the app.

use lantern::cli::{Outcome, run_from};

/// Whether a write to a closed pipe ends the process quietly (the command line: `lantern methods |
/// head` stops like any Unix tool) or returns an error to the writer (the app, whose display and
/// GPU connections must not take the process down). Rust's runtime starts with the latter.
#[cfg(unix)]
fn quiet_on_closed_pipe(quiet: bool) {
    let action = if quiet { libc::SIG_DFL } else { libc::SIG_IGN };
    // SAFETY: `signal` with a constant disposition (default or ignore) touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, action);
    }
}

#[cfg(not(unix))]
fn quiet_on_closed_pipe(_quiet: bool) {}

fn main() {
    quiet_on_closed_pipe(true);
    let code = match run_from(std::env::args_os()) {
        Outcome::Exit(code) => code,
        Outcome::Window { paths, model, audit, camera } => {
            quiet_on_closed_pipe(false);
            match lantern::app::run(lantern::app::Launch { paths, model, audit, camera, ..Default::default() }) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("lantern: could not open the window: {e}");
                    1
                }
            }
        }
    };
    std::process::exit(code);
}
