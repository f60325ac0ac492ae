//! The proving-key cache: a proving key is read from the cache directory when it matches
//! the verifying key in the params directory; otherwise the **insecure development** key is
//! derived, checked against that verifying key, and cached. A verifying key from any other
//! setup (a ceremony, OS randomness) is never silently replaced by a development key: its
//! proving key must be supplied in the cache.

use crate::circuits::CircuitId;
use crate::fast::Prover;
use crate::files::{pk_path, read_pk, write_pk, VkFiles};
use crate::ProverError;
use std::path::Path;
use std::time::Instant;

/// Where the proving key came from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// Read from the cache.
    Cached,
    /// Derived from the insecure development seed (and cached).
    DerivedInsecureDev {
        /// Seconds the setup took.
        seconds: f64,
        /// Why a cached key was not used, if one was there.
        ignored_cache: Option<String>,
    },
}

/// Loads the proving key of `id` from `cache`, or derives the development keys and caches
/// them; checks either against the verifying key in `params`.
pub fn load_or_setup(
    id: &CircuitId,
    params: &Path,
    cache: &Path,
) -> Result<(Prover, KeySource), ProverError> {
    let name = id.name();
    let vk_files = VkFiles::new(params, &name);
    let vk = vk_files.read()?;
    let path = pk_path(cache, &name);
    let mut ignored_cache = None;
    if path.exists() {
        match read_pk(&path, &vk) {
            Ok(pk) => return Ok((id.prover(pk)?, KeySource::Cached)),
            Err(e) => ignored_cache = Some(e.to_string()),
        }
    }
    let t = Instant::now();
    let pk = id.insecure_dev_setup()?;
    if pk.vk != vk {
        return Err(ProverError::KeyMismatch {
            path: path.display().to_string(),
            reason: format!(
                "{} is not the development key of {name}: it came from another setup, so its proving key must be supplied here",
                vk_files.bin.display()
            ),
        });
    }
    write_pk(&path, &pk)?;
    let seconds = t.elapsed().as_secs_f64();
    Ok((
        id.prover(pk)?,
        KeySource::DerivedInsecureDev {
            seconds,
            ignored_cache,
        },
    ))
}
