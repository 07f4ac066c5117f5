//! libFuzzer target `safetensors_header`: the body is [`ft_fuzz::safetensors_header`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::safetensors_header(data));
