#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vibes_fuzz::Target::by_name("mustup_yaml")
    .expect("a known target")
    .run(data));
