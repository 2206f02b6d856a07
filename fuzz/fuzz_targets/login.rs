//! The login, seed-capability and grid-info parsers never panic on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_protocol::login;

fuzz_target!(|data: &[u8]| {
    let _ = login::parse_login_response(data);
    let _ = login::LoginRequest::parse(data);
    let _ = login::parse_seed_request(data);
    let _ = login::parse_seed_response(data);
    let _ = login::parse_grid_info(data);
});
