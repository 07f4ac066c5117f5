//! libFuzzer target `tokenizer_json`: the body is [`ft_fuzz::tokenizer_json`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::tokenizer_json(data));
