//! libFuzzer target `run_toml`: the body is [`ft_fuzz::run_toml`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::run_toml(data));
