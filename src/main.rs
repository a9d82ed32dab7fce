//! The `trackd` command.

fn main() -> std::process::ExitCode {
    trackd::cli::main()
}
