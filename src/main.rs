//! The `ragtime` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    ragtime::cli::run()
}
