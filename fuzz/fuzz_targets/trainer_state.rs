//! libFuzzer target `trainer_state`: the body is [`ft_fuzz::trainer_state`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::trainer_state(data));
