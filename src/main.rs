//! koogate: see the README.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match koogate::cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("koogate: {err:?}");
            ExitCode::FAILURE
        }
    }
}
