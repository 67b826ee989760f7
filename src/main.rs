//! koogate: see the README.

use std::process::ExitCode;

// mimalloc instead of the system allocator: a proxied request or a
// purchase allocates and frees many small values, and glibc's malloc was
// a fifth of koogate's instructions per call (bench/gate_callgrind.sh,
// bench/lifecycle_callgrind.sh; the README's speed section has the runs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
