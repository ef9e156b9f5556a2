//! libFuzzer entry for `tinyraft_tests::fuzzing::decode_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinyraft_tests::fuzzing::decode_message(data));
