#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vibes_fuzz::Target::by_name("config")
    .expect("a known target")
    .run(data));
