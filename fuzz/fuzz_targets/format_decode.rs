//! Fuzz target `format_decode`: see `rbolt_fuzz::format_decode`.
#![cfg_attr(feature = "libfuzzer", no_main)]

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rbolt_fuzz::format_decode(data));

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    rbolt_fuzz::replay::main("format_decode", rbolt_fuzz::format_decode);
}
