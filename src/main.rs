//! The `ragtime` binary: everything lives in the library.

/// mimalloc instead of the system allocator: rendering a page allocates a lot from both worker
/// threads, and glibc's malloc spent about a quarter of the server's CPU time on it under load
/// (lock waits and consolidation, in `perf`). Built without transparent huge pages (`no_thp`
/// in Cargo.toml), which cost 10 MiB of resident memory for nothing measurable.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ragtime::commands::run()
}
