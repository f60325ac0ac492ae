//! Native primitives: Poseidon per arity (the optimised permutation every component uses,
//! beside the textbook form it replaced), many hashes on one thread in eight AVX-512 IFMA
//! lanes beside the scalar form (`poseidon_many`, per hash), indexed-tree insert and
//! witness at depth 32.

use ark_ff::UniformRand;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::subject::truncate_248;
use zkcredit_circuits::{poseidon, Fr};

fn bench_poseidon(c: &mut Criterion) {
    let mut g = c.benchmark_group("poseidon");
    let mut rng = StdRng::seed_from_u64(1);
    for arity in [1, 2, 3, 4, 5, 6, 12] {
        let xs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
        g.bench_with_input(BenchmarkId::new("optimized", arity), &xs, |b, xs| {
            b.iter(|| poseidon::hash(xs).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("reference", arity), &xs, |b, xs| {
            b.iter(|| poseidon::hash_reference(xs).unwrap())
        });
    }
    g.finish();
}

/// 1,024 hashes on one thread, lanes against scalar; criterion reports the time per 1,024.
fn bench_poseidon_many(c: &mut Criterion) {
    fn inputs<const N: usize>(rng: &mut StdRng) -> Vec<[Fr; N]> {
        (0..1024)
            .map(|_| std::array::from_fn(|_| Fr::rand(rng)))
            .collect()
    }
    fn both<const N: usize>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        rng: &mut StdRng,
    ) {
        let xs = inputs::<N>(rng);
        g.bench_with_input(BenchmarkId::new("lanes", N), &xs, |b, xs| {
            b.iter(|| poseidon::hash_many_on_thread(xs, true))
        });
        g.bench_with_input(BenchmarkId::new("scalar", N), &xs, |b, xs| {
            b.iter(|| poseidon::hash_many_on_thread(xs, false))
        });
    }
    let mut g = c.benchmark_group("poseidon_many_1024");
    g.sample_size(20);
    let mut rng = StdRng::seed_from_u64(3);
    both::<2>(&mut g, &mut rng);
    both::<3>(&mut g, &mut rng);
    both::<4>(&mut g, &mut rng);
    g.finish();
}

fn bench_imt(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let rows: Vec<(Fr, [Fr; 3])> = (0..10_000)
        .map(|_| (truncate_248(&Fr::rand(&mut rng)), [Fr::from(1u64); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(32, &rows).unwrap();
    let mut g = c.benchmark_group("imt");
    g.bench_function("insert/d32", |b| {
        b.iter_batched(
            || (tree.clone(), truncate_248(&Fr::rand(&mut rng))),
            |(mut t, k)| t.insert(k, [Fr::from(2u64); 3]).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("witness/d32", |b| {
        b.iter(|| tree.witness(&rows[17].0).unwrap())
    });
    g.sample_size(10);
    g.bench_function("from_rows/10k/d32", |b| {
        b.iter(|| IndexedMerkleTree::from_rows(32, &rows).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_poseidon, bench_poseidon_many, bench_imt);
criterion_main!(benches);
