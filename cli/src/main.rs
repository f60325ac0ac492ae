//! `zkcredit`: one binary for every role. This file parses arguments and dispatches; each
//! subcommand lives in its own module under `cmd/`.
#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};
use cmd::{bench, ceremony, demo, model, prove, serve, setup, verify, wallet, CliError};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "zkcredit",
    version,
    about = "Zero-knowledge credit eligibility proofs (Groth16/BN254)",
    after_help = cmd::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate Groth16 keys: verifying key to the params dir, proving key to the cache.
    /// Default: INSECURE development keys from the published seed (same on every machine).
    Setup(setup::SetupArgs),
    /// Write a circuit's exact constraint system as an iden3 `.r1cs` file (wire 0 the
    /// constant one, then the public inputs in SPEC §6 order, then the private wires), for a
    /// snarkjs phase-2 ceremony (docs/CEREMONY.md).
    ExportR1cs(ceremony::ExportR1csArgs),
    /// Import a ceremony's final snarkjs `.zkey` as this circuit's keys (refused unless its
    /// constraint matrices are this circuit's).
    ImportZkey(ceremony::ImportZkeyArgs),
    /// Generate a synthetic alliance (KYC issuer, fraud lists, lenders, bureau) and an
    /// eligible applicant's witness file.
    GenWitness(prove::GenWitnessArgs),
    /// Prove a witness file (writes proof.json and public.json, snarkjs layout), or with
    /// --batch every *.json witness file of a directory on all cores (provider bulk proving;
    /// writes NAME.proof.json and NAME.public.json).
    Prove(prove::ProveArgs),
    /// Verify proof.json + public.json against verification_key.json. Exit 0 valid, 1 invalid, 2 bad input.
    Verify(verify::VerifyArgs),
    /// The whole story over HTTP: every role on loopback, wallets prove and apply, an
    /// on-chain borrow in an in-memory EVM.
    Demo(demo::DemoArgs),
    /// Generate the Solidity that comes from our sources (Groth16 verifier from the committed
    /// verifying key, Poseidon libraries, protocol constants). --check: fail on any difference.
    GenContracts(setup::GenContractsArgs),
    /// The registry service (spec §5): `zkcredit registry serve`.
    Registry {
        #[command(subcommand)]
        cmd: serve::RegistryCmd,
    },
    /// The KYC issuer (spec §2, §3.4): `zkcredit issuer serve`.
    Issuer {
        #[command(subcommand)]
        cmd: serve::IssuerCmd,
    },
    /// A fraud list, lender or bureau (spec §4): `zkcredit provider serve|import`.
    Provider {
        #[command(subcommand)]
        cmd: serve::ProviderCmd,
    },
    /// The borrower's wallet: `zkcredit wallet init|register|prove|apply`.
    Wallet {
        #[command(subcommand)]
        cmd: wallet::WalletCmd,
    },
    /// The lender's verifier service (spec §7): `zkcredit verifier serve`.
    Verifier {
        #[command(subcommand)]
        cmd: serve::VerifierCmd,
    },
    /// Measure constraints, setup, witness, prove and verify times per circuit and size.
    Bench(bench::BenchArgs),
    /// Published default-probability models (SPEC §6.9): `zkcredit model check FILE`.
    Model {
        #[command(subcommand)]
        cmd: model::ModelCmd,
    },
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.cmd {
        Cmd::Setup(a) => setup::setup(a),
        Cmd::GenWitness(a) => prove::gen_witness(a),
        Cmd::ExportR1cs(a) => ceremony::export_r1cs(a),
        Cmd::ImportZkey(a) => ceremony::import_zkey(a),
        Cmd::Prove(a) => prove::prove(a),
        Cmd::Verify(a) => verify::verify(a),
        Cmd::Demo(a) => demo::demo(a),
        Cmd::GenContracts(a) => setup::gen_contracts(a),
        Cmd::Registry { cmd } => serve::registry(cmd),
        Cmd::Issuer { cmd } => serve::issuer(cmd),
        Cmd::Provider { cmd } => serve::provider(cmd),
        Cmd::Wallet { cmd } => wallet::wallet(cmd),
        Cmd::Verifier { cmd } => serve::verifier(cmd),
        Cmd::Bench(a) => bench::bench(a),
        Cmd::Model { cmd } => model::model(cmd),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                CliError::Refused(m) => eprintln!("REFUSED: {m}"),
                other => eprintln!("error: {other}"),
            }
            ExitCode::from(e.exit_code())
        }
    }
}
