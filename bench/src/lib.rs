//! Process measurements shared by the benchmark binaries (Linux).

/// User + system CPU time of the whole process (all threads), in seconds.
pub fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer to a timespec; CLOCK_PROCESS_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// A KiB figure of /proc/self/status (Linux).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Peak resident set size of this process so far, in KiB. VmHWM, not getrusage's
/// ru_maxrss: that one survives execve and so starts at the parent's RSS.
pub fn max_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// Current resident set size in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}
