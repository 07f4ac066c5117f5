//! libFuzzer target `config_json`: the body is [`ft_fuzz::config_json`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::config_json(data));
