#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vibes_fuzz::Target::by_name("saved_plan")
    .expect("a known target")
    .run(data));
