//! The deployed contracts carry the Rust protocol constants (through the generated
//! `ZkCreditConstants.sol` and the verifier's named input points).

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, SolInterface, SolValue};
use zkcredit_circuits::eligibility::NUM_PUBLIC_INPUTS;
use zkcredit_circuits::registry::{Registry, Role, DEFAULT_SLOTS};
use zkcredit_circuits::Fr;
use zkcredit_evm::abi::{fr_word, LendingPool, ProviderRegistry};
use zkcredit_evm::pool::{account, admin, Deployment, PoolConfig};

fn deploy() -> Deployment {
    let cfg = PoolConfig {
        policy_hash: Fr::from(7u64),
        scope: Fr::from(9u64),
        max_skew: 300,
        history_window: 3_600,
        liquidity: U256::ZERO,
        max_loan: U256::from(1u64),
        period_limit: U256::from(1u64),
        period_seconds: 86_400,
        // The committed verifier is generated from the development key (demo and tests).
        limits_new_loans: false,
        insecure_dev_keys: true,
    };
    Deployment::new(1_790_000_000, &Registry::new(DEFAULT_SLOTS).unwrap(), cfg).unwrap()
}

fn view(d: &mut Deployment, to: Address, data: Vec<u8>) -> U256 {
    let o = d.chain.view(admin(), to, data).unwrap();
    assert!(o.success, "view reverted: 0x{}", hex::encode(&o.output));
    U256::abi_decode(&o.output).unwrap()
}

fn set_provider(slot: usize, role: u8) -> Vec<u8> {
    ProviderRegistry::setProviderCall {
        slot: U256::from(slot),
        role,
        providerId: U256::from(1),
        account: account(0x1234),
    }
    .abi_encode()
}

#[test]
fn deployed_contracts_use_the_rust_protocol_constants() {
    use ProviderRegistry::ProviderRegistryErrors as E;
    let mut d = deploy();
    let (registry, pool) = (d.registry, d.pool);
    let slots = view(
        &mut d,
        registry,
        ProviderRegistry::SLOTSCall {}.abi_encode(),
    );
    assert_eq!(slots, U256::from(DEFAULT_SLOTS));
    let depth = view(
        &mut d,
        registry,
        ProviderRegistry::DEPTHCall {}.abi_encode(),
    );
    assert_eq!(depth, U256::from(DEFAULT_SLOTS.ilog2()));
    let n = view(
        &mut d,
        pool,
        LendingPool::NUM_PUBLIC_INPUTSCall {}.abi_encode(),
    );
    assert_eq!(n, U256::from(NUM_PUBLIC_INPUTS));

    let mut revert = |data: Vec<u8>| {
        let o = d.chain.call(admin(), registry, data, U256::ZERO).unwrap();
        assert!(!o.success, "expected a revert");
        E::abi_decode(&o.output).unwrap()
    };
    // One past the last slot, one past the largest role, and the KYC role outside slot 0
    // are refused.
    let lender = Role::Lender as u8;
    assert!(matches!(
        revert(set_provider(DEFAULT_SLOTS, lender)),
        E::SlotOutOfRange(_)
    ));
    let max_role = (0..=u8::MAX).rev().find_map(Role::from_u8).unwrap() as u8;
    assert!(matches!(
        revert(set_provider(1, max_role + 1)),
        E::BadRole(_)
    ));
    assert!(matches!(
        revert(set_provider(1, Role::Kyc as u8)),
        E::BadRole(_)
    ));
    // Every role the Rust registry accepts is accepted on chain in the same slots.
    let mut native = Registry::new(DEFAULT_SLOTS).unwrap();
    for role in (0..=u8::MAX).filter_map(Role::from_u8) {
        let slot = if role == Role::Kyc { 0 } else { 1 };
        let o = d
            .chain
            .call(
                admin(),
                registry,
                set_provider(slot, role as u8),
                U256::ZERO,
            )
            .unwrap();
        assert!(o.success, "setProvider({slot}, {role:?}) reverted");
        let leaf = zkcredit_circuits::registry::Slot {
            role,
            provider_id: if role == Role::Empty {
                Fr::from(0u64)
            } else {
                Fr::from(1u64)
            },
            ..Default::default()
        };
        native.set(slot, leaf).unwrap();
        assert_eq!(d.current_root().unwrap(), fr_word(&native.root()));
    }

    // The pool's context mask is the Rust one.
    let (who, amount) = (account(0xb0), U256::from(10u64).pow(U256::from(18u64)));
    let got = view(
        &mut d,
        pool,
        LendingPool::expectedContextCall {
            borrower: who,
            amount,
        }
        .abi_encode(),
    );
    assert_eq!(got, fr_word(&d.context(who, amount)));
}
