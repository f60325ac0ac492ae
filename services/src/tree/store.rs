//! The encodings of the tree's stored values (spec §4.4): field elements as 32 big-endian
//! bytes (so byte order is numeric order), records as three of them.

use std::collections::BTreeMap;
use zkcredit_api::ApiError;
use zkcredit_circuits::field::{fr_from_be_bytes, fr_to_be_bytes};
use zkcredit_circuits::Fr;

pub(super) fn rec_bytes(v: &[Fr; 3]) -> Vec<u8> {
    v.iter().flat_map(fr_to_be_bytes).collect()
}

pub(super) fn fr_blob(b: &[u8]) -> Result<Fr, ApiError> {
    let a: [u8; 32] = b
        .try_into()
        .map_err(|_| ApiError::internal("bad blob length in store"))?;
    fr_from_be_bytes(&a).map_err(ApiError::internal)
}

pub(super) fn rec_blob(b: &[u8]) -> Result<[Fr; 3], ApiError> {
    if b.len() != 96 {
        return Err(ApiError::internal("bad record length in store"));
    }
    Ok([fr_blob(&b[..32])?, fr_blob(&b[32..64])?, fr_blob(&b[64..])?])
}

/// The journal's net effect: last write per key.
pub(super) type Net = BTreeMap<Fr, Option<[Fr; 3]>>;
