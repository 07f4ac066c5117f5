//! libFuzzer target `squad_rows`: the body is [`ft_fuzz::squad_rows`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: ft_fuzz::libfuzzer_init(), |data: &[u8]| ft_fuzz::squad_rows(data));
