//! The `lantern` binary: with a subcommand, the headless CLI; without one, the desktop app.

fn main() {
    std::process::exit(lantern::cli::run_from(std::env::args_os()));
}
