//! The `lantern` binary: with a subcommand, the headless CLI; without one (or with `open`), the
//! desktop app. The choice is made here, so the CLI never depends on the app.

use lantern::cli::{Outcome, run_from};

fn main() {
    let code = match run_from(std::env::args_os()) {
        Outcome::Exit(code) => code,
        Outcome::Window { paths, model } => match lantern::app::run(lantern::app::Launch { paths, model }) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("lantern: could not open the window: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}
