//! The allocator's footprint: resident memory is an issue-15 goal (peak RSS under the bench),
//! and with glibc's malloc most of what a server holds beyond its live data is memory it freed
//! but kept. Both calls are glibc tunables; elsewhere (musl, macOS) they do nothing.

/// glibc gives each thread that allocates under contention an arena of its own (up to eight per
/// core), each keeping its freed memory: with Tokio's workers, the blocking pool and the log
/// writer that is most of the growth of RSS under load, for no measurable speed
/// (docs/performance.md). Two arenas, unless `MALLOC_ARENA_MAX` says otherwise. Call first,
/// before any thread exists.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator tunable; no other thread runs yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Building the routes builds the OpenAPI document several times over (poem-openapi's text, its
/// parsed form, the completed document, the request guard): twice the heap the server keeps
/// afterwards, which glibc would otherwise hold on to for the life of the process. Call once the
/// routes are built.
pub fn release_startup_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
