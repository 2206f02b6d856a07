//! Region archives (`overlook sim --oar`): the reader never panics and stays within its limits
//! on arbitrary bytes. Each input is read twice: as it is (mostly not gzip, so the early checks
//! and the gzip decoder), and gzip-compressed, so the tar reader, the XML walk and the object,
//! settings and asset parsers see the bytes as the archive's contents. Small limits keep a
//! run fast and make them bite.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use overlook_sim::oar::{OarLimits, read_oar};

fuzz_target!(|data: &[u8]| {
    let limits = OarLimits {
        max_entry_bytes: 1 << 20,
        max_uncompressed_bytes: 4 << 20,
        max_compressed_bytes: 4 << 20,
        ..OarLimits::default()
    };
    if let Ok(oar) = read_oar(data, &limits) {
        let _ = oar.missing_assets();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if gz.write_all(data).is_ok()
        && let Ok(bytes) = gz.finish()
        && let Ok(oar) = read_oar(&bytes[..], &limits)
    {
        assert!(
            oar.objects.len() <= limits.max_parts,
            "more parts than the limit"
        );
        let _ = oar.served_assets();
        let _ = oar.missing_assets();
    }
});
