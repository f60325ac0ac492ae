//! The process's peak resident memory (Linux `VmHWM`), the one reader used by bulk proving
//! and the benchmarks.

/// Resets the kernel's peak-RSS counter of this process (Linux `clear_refs` 5); a no-op
/// where unsupported.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process in MiB since start or the last
/// [`reset_peak_rss`], if the platform reports it.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// [`peak_rss_mib`] for people: `"335 MiB"` or `"n/a"`.
pub fn peak_rss_text() -> String {
    peak_rss_mib()
        .map(|m| format!("{m:.0} MiB"))
        .unwrap_or_else(|| "n/a".into())
}
