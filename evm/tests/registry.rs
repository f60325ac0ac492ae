//! On chain, in a real EVM (revm): the on-chain Poseidon and the provider registry against
//! their Rust twins, and the registry's access control.

mod common;
use common::*;

#[test]
fn onchain_poseidon_equals_rust_on_random_inputs() {
    let mut chain = Chain::new(T0);
    let (hasher, _) = chain
        .deploy(
            "PoseidonHasher",
            admin(),
            &PoseidonHasher::BYTECODE,
            &[],
            U256::ZERO,
        )
        .unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    for i in 0..25 {
        let xs: Vec<Fr> = (0..4)
            .map(|_| {
                if i == 0 {
                    Fr::from(0u64)
                } else {
                    Fr::rand(&mut rng)
                }
            })
            .collect();
        let data = PoseidonHasher::hash2Call {
            a: fr_word(&xs[0]),
            b: fr_word(&xs[1]),
        }
        .abi_encode();
        let o = expect_ok(chain.view(admin(), hasher, data.clone()).unwrap(), "hash2");
        assert_eq!(
            U256::abi_decode(&o.output).unwrap(),
            fr_word(&poseidon::hash2(xs[0], xs[1]))
        );
        if i == 1 {
            println!("GAS poseidon hash2: execution {}", o.execution_gas(&data));
        }
        let data = PoseidonHasher::hash4Call {
            a: fr_word(&xs[0]),
            b: fr_word(&xs[1]),
            c: fr_word(&xs[2]),
            d: fr_word(&xs[3]),
        }
        .abi_encode();
        let o = expect_ok(chain.view(admin(), hasher, data.clone()).unwrap(), "hash4");
        assert_eq!(
            U256::abi_decode(&o.output).unwrap(),
            fr_word(&poseidon::hash_n([xs[0], xs[1], xs[2], xs[3]]))
        );
        if i == 1 {
            println!("GAS poseidon hash4: execution {}", o.execution_gas(&data));
        }
    }
    let o = chain
        .view(
            admin(),
            hasher,
            PoseidonHasher::hash2Call {
                a: U256::from(1),
                b: U256::from(2),
            }
            .abi_encode(),
        )
        .unwrap();
    assert_eq!(
        U256::abi_decode(&o.output).unwrap().to_string(),
        "7853200120776062878684798364095072458815029376092732009249414926327459813530"
    );
}

#[test]
fn onchain_registry_follows_random_updates_like_the_rust_registry() {
    use zkcredit_circuits::registry::{Registry, Slot};
    let mut chain = Chain::new(T0);
    let (registry, gas) = chain
        .deploy(
            "ProviderRegistry",
            admin(),
            &ProviderRegistry::BYTECODE,
            &ProviderRegistry::constructorCall { window: WINDOW }.abi_encode(),
            U256::ZERO,
        )
        .unwrap();
    println!("GAS deploy ProviderRegistry: {gas}");
    let mut native = Registry::new(DEFAULT_SLOTS).unwrap();
    assert_eq!(current_root(&mut chain, registry), fr_word(&native.root()));
    let mut rng = StdRng::seed_from_u64(9);
    let mut t = T0;
    let mut publish_gas = Vec::new();
    for _ in 0..40 {
        t += rng.gen_range(1..100);
        chain.set_timestamp(t);
        let slot = rng.gen_range(0..DEFAULT_SLOTS);
        let current = native.slots()[slot];
        if current.role == Role::Empty || rng.gen_bool(0.2) {
            let role = if slot == 0 {
                Role::Kyc
            } else {
                Role::from_u8(rng.gen_range(0..=4u8).max(2)).unwrap()
            };
            let id = Fr::rand(&mut rng);
            let call = ProviderRegistry::setProviderCall {
                slot: U256::from(slot),
                role: role as u8,
                providerId: fr_word(&id),
                account: provider_account(slot),
            };
            expect_ok(
                chain
                    .call(admin(), registry, call.abi_encode(), U256::ZERO)
                    .unwrap(),
                "setProvider",
            );
            native
                .set(
                    slot,
                    Slot {
                        role,
                        provider_id: id,
                        provider_root: Fr::from(0u64),
                        published_at: 0,
                    },
                )
                .unwrap();
        } else {
            let root = Fr::rand(&mut rng);
            let o = publish(&mut chain, registry, slot, &root, t);
            publish_gas.push(o.gas_used);
            native
                .set(
                    slot,
                    Slot {
                        provider_root: root,
                        published_at: t,
                        ..current
                    },
                )
                .unwrap();
        }
        assert_eq!(current_root(&mut chain, registry), fr_word(&native.root()));
    }
    publish_gas.sort();
    println!(
        "GAS publishRoot (registry update): median {}",
        publish_gas[publish_gas.len() / 2]
    );
}

/// Sends `data` to the registry from `from` and decodes the custom error it reverts with.
fn registry_revert(
    d: &mut Deployed,
    from: Address,
    data: Vec<u8>,
) -> ProviderRegistry::ProviderRegistryErrors {
    let o = d.chain.call(from, d.registry, data, U256::ZERO).unwrap();
    assert!(!o.success, "expected a revert");
    ProviderRegistry::ProviderRegistryErrors::abi_decode(&o.output).unwrap()
}

#[test]
fn registry_access_control() {
    use ProviderRegistry::ProviderRegistryErrors as E;
    let mut d = deploy();
    let set = |slot: u64| {
        ProviderRegistry::setProviderCall {
            slot: U256::from(slot),
            role: 3,
            providerId: U256::from(1),
            account: borrower(),
        }
        .abi_encode()
    };
    let publish_at = |at: u64| {
        ProviderRegistry::publishRootCall {
            slot: U256::from(1),
            providerRoot: U256::from(5),
            publishedAt: at,
        }
        .abi_encode()
    };
    assert!(matches!(
        registry_revert(&mut d, borrower(), set(9)),
        E::NotAdmin(_)
    ));
    assert!(matches!(
        registry_revert(&mut d, admin(), set(0)),
        E::BadRole(_)
    ));
    // Another provider cannot publish into slot 1.
    assert!(matches!(
        registry_revert(&mut d, provider_account(2), publish_at(T0)),
        E::NotSlotAccount(_)
    ));
    // Not in the future, not backwards.
    assert!(matches!(
        registry_revert(&mut d, provider_account(1), publish_at(T0 + 10)),
        E::PublishedInFuture(_)
    ));
    assert!(matches!(
        registry_revert(&mut d, provider_account(1), publish_at(T0 - 1000)),
        E::PublishedBeforePrevious(_)
    ));
    // Regression (as the off-chain registry): another root at the slot's own time is
    // refused; the same root at the same time (a retry) is taken.
    let slot = |d: &mut Deployed| {
        let data = ProviderRegistry::getSlotCall {
            slot: U256::from(1),
        }
        .abi_encode();
        let o = expect_ok(d.chain.view(admin(), d.registry, data).unwrap(), "getSlot");
        ProviderRegistry::getSlotCall::abi_decode_returns(&o.output).unwrap()
    };
    let at = slot(&mut d).publishedAt;
    let publish = |root: u64| {
        ProviderRegistry::publishRootCall {
            slot: U256::from(1),
            providerRoot: U256::from(root),
            publishedAt: at,
        }
        .abi_encode()
    };
    let current = slot(&mut d).providerRoot;
    let other = if current == U256::from(77) { 78 } else { 77 };
    assert!(matches!(
        registry_revert(&mut d, provider_account(1), publish(other)),
        E::PublishedBeforePrevious(_)
    ));
    let retry = ProviderRegistry::publishRootCall {
        slot: U256::from(1),
        providerRoot: current,
        publishedAt: at,
    }
    .abi_encode();
    let o = d
        .chain
        .call(provider_account(1), d.registry, retry, U256::ZERO)
        .unwrap();
    assert!(o.success, "the same root at the same time is a retry");
    assert_eq!(slot(&mut d).providerRoot, current);
}
