//! The one clock of the services, the wallet and the command line.

/// Unix seconds now (0 if the system clock is set before 1970, which every freshness
/// check then refuses).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
