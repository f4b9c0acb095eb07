//! Fuzz target `open_file`: see `rbolt_fuzz::open_file`.
#![cfg_attr(feature = "libfuzzer", no_main)]

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rbolt_fuzz::open_file(data));

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    rbolt_fuzz::replay::main("open_file", rbolt_fuzz::open_file);
}
