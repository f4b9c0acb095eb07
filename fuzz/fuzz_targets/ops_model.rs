//! Fuzz target `ops_model`: see `rbolt_fuzz::ops_model`.
#![cfg_attr(feature = "libfuzzer", no_main)]

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rbolt_fuzz::ops_model(data));

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    rbolt_fuzz::replay::main("ops_model", rbolt_fuzz::ops_model);
}
