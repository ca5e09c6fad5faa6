//! Process measurements shared by the benchmark binaries (Linux), and the loopback origin.

#[cfg(feature = "http")]
pub mod origin;

/// The benchmark corpus beside the repository (`../shared/bench-corpus`).
pub fn default_corpus() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-corpus").into()
}

/// A comma-separated list of counts (`1,2,8,32`); what does not parse is left out.
pub fn counts(list: &str) -> Vec<usize> {
    list.split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

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

/// User and system CPU time of every child process waited for so far, in seconds.
pub fn children_cpu_seconds() -> (f64, f64) {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer to a rusage; RUSAGE_CHILDREN exists on Linux.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
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
