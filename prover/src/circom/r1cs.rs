//! iden3's `.r1cs` (version 1) and `.wtns` (version 2) writers, SPEC §10.1.
//!
//! Wires are our variables in proving order: wire 0 the constant one, then the public inputs
//! in SPEC §6 order, then every private variable; the file declares the public inputs as
//! `nPubIn` (no outputs, no private inputs: circom's split of private wires does not exist
//! here) and labels wire `i` with label `i`. Coefficients are written in standard form,
//! each row's terms sorted by wire with duplicates summed and zeros dropped.

use super::binfile::{put_fr, write};
use crate::fast::R1cs;
use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField, Zero};

/// A row with its terms sorted by wire, equal wires summed, zeros dropped.
pub fn canonical_row(row: &[(Fr, usize)]) -> Vec<(usize, Fr)> {
    let mut terms: Vec<(usize, Fr)> = row.iter().map(|(c, w)| (*w, *c)).collect();
    terms.sort_by_key(|(w, _)| *w);
    let mut out: Vec<(usize, Fr)> = Vec::with_capacity(terms.len());
    for (w, c) in terms {
        match out.last_mut() {
            Some((lw, lc)) if *lw == w => *lc += c,
            _ => out.push((w, c)),
        }
    }
    out.retain(|(_, c)| !c.is_zero());
    out
}

fn prime() -> Vec<u8> {
    Fr::MODULUS.to_bytes_le()
}

/// The `.r1cs` file of `r`.
pub fn r1cs_bytes(r: &R1cs) -> Vec<u8> {
    let n_wires = (r.num_inputs + r.num_witness) as u32;
    let mut header = Vec::with_capacity(64);
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&prime());
    header.extend_from_slice(&n_wires.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // public outputs
    header.extend_from_slice(&((r.num_inputs - 1) as u32).to_le_bytes()); // public inputs
    header.extend_from_slice(&0u32.to_le_bytes()); // private inputs
    header.extend_from_slice(&u64::from(n_wires).to_le_bytes()); // labels
    header.extend_from_slice(&(r.num_constraints as u32).to_le_bytes());
    let mut constraints = Vec::new();
    for i in 0..r.num_constraints {
        for m in &r.matrices[..3] {
            let row = canonical_row(&m[i]);
            constraints.extend_from_slice(&(row.len() as u32).to_le_bytes());
            for (w, c) in row {
                constraints.extend_from_slice(&(w as u32).to_le_bytes());
                put_fr(&mut constraints, &c);
            }
        }
    }
    let mut map = Vec::with_capacity(8 * n_wires as usize);
    for w in 0..u64::from(n_wires) {
        map.extend_from_slice(&w.to_le_bytes());
    }
    write(b"r1cs", 1, &[(1, header), (2, constraints), (3, map)])
}

/// The `.wtns` file of a full assignment `z` (wire order of [`r1cs_bytes`]).
pub fn wtns_bytes(z: &[Fr]) -> Vec<u8> {
    let mut header = Vec::with_capacity(40);
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&prime());
    header.extend_from_slice(&(z.len() as u32).to_le_bytes());
    let mut values = Vec::with_capacity(32 * z.len());
    for v in z {
        put_fr(&mut values, v);
    }
    write(b"wtns", 2, &[(1, header), (2, values)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circom::binfile::BinFile;

    fn tiny() -> R1cs {
        // x·x = y with x private, y public; the second row has a duplicate and a zero term.
        let one = Fr::from(1u8);
        R1cs {
            matrices: vec![
                vec![vec![(one, 2)], vec![(one, 2), (one, 2), (Fr::zero(), 1)]],
                vec![vec![(one, 2)], vec![(one, 0)]],
                vec![vec![(one, 1)], vec![(Fr::from(2u8), 2)]],
            ],
            num_inputs: 2,
            num_witness: 1,
            num_constraints: 2,
        }
    }

    #[test]
    fn r1cs_layout_is_iden3s() {
        let b = r1cs_bytes(&tiny());
        let f = BinFile::parse(&b, b"r1cs", 3).unwrap();
        assert_eq!(f.version, 1);
        let mut h = f.section_sized(1, 64).unwrap();
        h.expect_u32(32, "n8").unwrap();
        h.expect_modulus::<Fr>("prime").unwrap();
        for (want, what) in [(3, "wires"), (0, "outputs"), (1, "public"), (0, "private")] {
            h.expect_u32(want, what).unwrap();
        }
        assert_eq!(h.u64().unwrap(), 3);
        h.expect_u32(2, "constraints").unwrap();
        h.finish("header").unwrap();
        let mut c = f.section(2).unwrap();
        // Row 2 of A: wire 2 twice (summed to 2) and a zero term (dropped).
        for _ in 0..3 {
            let n = c.u32().unwrap();
            for _ in 0..n {
                c.u32().unwrap();
                c.fr().unwrap();
            }
        }
        assert_eq!(c.u32().unwrap(), 1);
        assert_eq!(c.u32().unwrap(), 2);
        assert_eq!(c.fr().unwrap(), Fr::from(2u8));
        assert!(f.section_sized(3, 24).is_ok());
    }

    #[test]
    fn wtns_layout_is_iden3s() {
        let z = [Fr::from(1u8), Fr::from(9u8), Fr::from(3u8)];
        let b = wtns_bytes(&z);
        let f = BinFile::parse(&b, b"wtns", 2).unwrap();
        assert_eq!(f.version, 2);
        let mut h = f.section_sized(1, 40).unwrap();
        h.expect_u32(32, "n8").unwrap();
        h.expect_modulus::<Fr>("prime").unwrap();
        h.expect_u32(3, "witnesses").unwrap();
        let mut v = f.section_sized(2, 96).unwrap();
        for want in z {
            assert_eq!(v.fr().unwrap(), want);
        }
    }

    #[test]
    fn containers_with_lying_lengths_are_refused() {
        let b = wtns_bytes(&[Fr::from(1u8)]);
        for cut in [0, 3, 11, 20, b.len() - 1] {
            assert!(BinFile::parse(&b[..cut], b"wtns", 2).is_err(), "cut {cut}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(BinFile::parse(&long, b"wtns", 2).is_err());
        let mut huge = b.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(BinFile::parse(&huge, b"wtns", 2).is_err());
        assert!(BinFile::parse(&b, b"zkey", 2).is_err());
    }
}
