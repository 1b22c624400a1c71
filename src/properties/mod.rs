//! Property / fuzz tests (proptest) of the pure request and stream code.
//!
//! Every test is named `fuzz_*`. `cargo test` runs each with a few fixed-seed cases;
//! `npm run fuzz` sets `FUZZ_CASES` (cases per property) and a random `FUZZ_SEED`, and
//! each property prints `fuzz-cases <name> <n>` so the script can add them up.

mod gen;
mod json_read;
mod requests;
mod sse;
mod streams;

use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// Seed of the quick run (`cargo test`): fixed, so `npm test` is deterministic.
const QUICK_SEED: u64 = 0x5eed_c0de;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// Runs `test` on `quick` generated cases (or `weight` × `FUZZ_CASES`), with a fixed
/// seed (or `FUZZ_SEED`); panics with the shrunk failing input.
pub fn check<S: Strategy>(
    name: &str,
    quick: u32,
    weight: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let cases = env_u64("FUZZ_CASES").map_or(quick, |n| n as u32 * weight);
    let seed = env_u64("FUZZ_SEED").unwrap_or(QUICK_SEED);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 20_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let start = Instant::now();
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name} failed (FUZZ_SEED={seed}): {e}");
    }
    eprintln!(
        "fuzz-cases {name} {cases} ({:.1}s)",
        start.elapsed().as_secs_f64()
    );
}

/// `prop_assert!` with a formatted message, usable in helper fns returning `Result`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(proptest::test_runner::TestCaseError::fail(format!($($fmt)+)));
        }
    };
}
pub(crate) use ensure;
