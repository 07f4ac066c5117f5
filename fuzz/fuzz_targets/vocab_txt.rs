//! libFuzzer target `vocab_txt`: the body is [`ft_fuzz::vocab_txt`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::vocab_txt(data));
