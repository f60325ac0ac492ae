//! Finding 7 (issue 10): the pool bounds what an eligible borrower can take. A per-loan cap
//! and a per-period limit are fixed at deployment; a valid proof for a larger amount
//! reverts with its own error and burns nothing (the nullifier stays unused).

mod common;
use common::*;

/// `world()` plus two more eligible applicants, every root republished.
fn world_of_three() -> &'static (World, [Borrower; 3]) {
    static W: OnceLock<(World, [Borrower; 3])> = OnceLock::new();
    W.get_or_init(|| {
        let (w, b1) = world();
        let mut world = w.clone();
        let mut rng = StdRng::seed_from_u64(77);
        let mut more = [*b1; 2];
        for b in &mut more {
            *b = Borrower::random(&mut rng);
            world
                .register(b, T0 - 365 * 86_400, T0 + 365 * 86_400)
                .unwrap();
            world
                .set_record(Role::Lender, 0, b.subject_key, [1, 120_000, 5])
                .unwrap();
            world
                .set_record(Role::Bureau, 0, b.subject_key, [700, T0 - 86_400, 7])
                .unwrap();
        }
        world.publish(T0 - 60).unwrap();
        (world, [*b1, more[0], more[1]])
    })
}

fn cfg() -> PoolConfig {
    pool_config(example_policy().hash())
}

/// A proof by `b` of `world_of_three` at `now` for `sender` borrowing `amount`.
fn proof_by(
    b: &Borrower,
    now: u64,
    pool: Address,
    sender: Address,
    amount: u64,
) -> (Proof, PublicInputs) {
    let (world, _) = world_of_three();
    let ctx = onchain_context(CHAIN_ID, pool, sender, U256::from(amount));
    let w = world
        .witness(b, example_policy(), now, Fr::from(SCOPE), ctx)
        .unwrap();
    zkcredit_prover::prove_eligibility(pk(), EligibilityParams::default(), w).unwrap()
}

fn nullifier_used(d: &mut Deployed, n: &Fr) -> bool {
    let o = d
        .chain
        .view(
            admin(),
            d.pool,
            LendingPool::nullifierUsedCall {
                nullifier: fr_word(n),
            }
            .abi_encode(),
        )
        .unwrap();
    bool::abi_decode(&o.output).unwrap()
}

#[test]
fn finding_07_loan_above_cap_reverts() {
    let mut d = deploy();
    println!("GAS deploy LendingPool: {}", d.gas.pool);
    let pool_balance = d.chain.balance(d.pool);
    // The attack: one eligible borrower binds `amount = balance` into the context with a
    // valid proof and would empty the pool.
    for amount in [MAX_LOAN + 1, 10 * AMOUNT] {
        let (p, public) = proof_for(d.pool, borrower(), amount);
        let (o, _) = borrow_amount(
            &mut d,
            borrower(),
            amount,
            proof_words(&p),
            input_words(&public),
        );
        match pool_error(&o) {
            LendingPool::LendingPoolErrors::LoanAboveCap(e) => {
                assert_eq!(e.amount, U256::from(amount));
                assert_eq!(e.maxLoan, U256::from(MAX_LOAN));
            }
            other => panic!("expected LoanAboveCap, got {other:?}"),
        }
        assert!(!nullifier_used(&mut d, &public.nullifier));
    }
    assert_eq!(d.chain.balance(d.pool), pool_balance);
    // At the cap the same person borrows.
    let (p, public) = proof_for(d.pool, borrower(), MAX_LOAN);
    let (o, _) = borrow_amount(
        &mut d,
        borrower(),
        MAX_LOAN,
        proof_words(&p),
        input_words(&public),
    );
    expect_ok(o, "borrow at the cap");
    // A deployment whose limits make no sense is refused.
    for (max_loan, period_limit, period_seconds) in [
        (0, PERIOD_LIMIT, PERIOD),
        (MAX_LOAN, MAX_LOAN - 1, PERIOD),
        (MAX_LOAN, PERIOD_LIMIT, 0),
    ] {
        let bad = PoolConfig {
            max_loan: U256::from(max_loan),
            period_limit: U256::from(period_limit),
            period_seconds,
            ..cfg()
        };
        let e = Deployment::new(T0, &world().0.registry, bad).unwrap_err();
        let want = hex::encode(LendingPool::BadLimits {}.abi_encode());
        assert!(e.to_string().contains(&want), "{e}");
    }
}

#[test]
fn finding_07_pool_period_limit_reverts() {
    let (world, [b1, b2, b3]) = world_of_three();
    let mut d = Deployment::new(T0, &world.registry, cfg()).unwrap();
    let (s1, s2, s3) = (addr(0xb1), addr(0xb2), addr(0xb3));
    // Day one: 2 ETH to the first borrower, leaving 1 ETH of the 3 ETH daily limit.
    let (p, public) = proof_by(b1, T0, d.pool, s1, MAX_LOAN);
    expect_ok(
        borrow_amount(&mut d, s1, MAX_LOAN, proof_words(&p), input_words(&public)).0,
        "first loan of the period",
    );
    // A second eligible borrower asks for 2 ETH: within the per-loan cap, above what is left.
    let (p, public) = proof_by(b2, T0, d.pool, s2, MAX_LOAN);
    let (o, _) = borrow_amount(&mut d, s2, MAX_LOAN, proof_words(&p), input_words(&public));
    match pool_error(&o) {
        LendingPool::LendingPoolErrors::PeriodLimitExceeded(e) => {
            assert_eq!(e.amount, U256::from(MAX_LOAN));
            assert_eq!(e.remaining, U256::from(PERIOD_LIMIT - MAX_LOAN));
        }
        other => panic!("expected PeriodLimitExceeded, got {other:?}"),
    }
    assert!(!nullifier_used(&mut d, &public.nullifier));
    // What is left is still lent, and then nothing more today.
    let rest = PERIOD_LIMIT - MAX_LOAN;
    let (p, public) = proof_by(b2, T0, d.pool, s2, rest);
    expect_ok(
        borrow_amount(&mut d, s2, rest, proof_words(&p), input_words(&public)).0,
        "the rest of the period's limit",
    );
    let (p, public) = proof_by(b3, T0, d.pool, s3, 1);
    let (o, _) = borrow_amount(&mut d, s3, 1, proof_words(&p), input_words(&public));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::PeriodLimitExceeded(_)
    ));
    // The next period starts afresh.
    let t1 = (T0 / PERIOD + 1) * PERIOD;
    d.chain.set_timestamp(t1);
    let (p, public) = proof_by(b3, t1, d.pool, s3, MAX_LOAN);
    expect_ok(
        borrow_amount(&mut d, s3, MAX_LOAN, proof_words(&p), input_words(&public)).0,
        "first loan of the next period",
    );
}

/// Finding 3 (issue 10): the pool deploy helper refuses a verifier compiled from a
/// development key unless told it is a demo; the committed key is one.
#[test]
fn finding_3_pool_deploy_refuses_development_keys_without_the_flag() {
    assert!(zkcredit_evm::pool::compiled_vk_is_insecure_dev().unwrap());
    let mut c = cfg();
    c.insecure_dev_keys = false;
    let e = Deployment::new(T0, &world().0.registry, c).unwrap_err();
    assert!(e.to_string().contains("development verifying key"), "{e}");
    let mut c = cfg();
    c.insecure_dev_keys = true;
    Deployment::new(T0, &world().0.registry, c).unwrap();
}
