//! Tests against real OpenSim 0.9.2.2 traffic (`shared/captures/opensim-0.9.2.2/`, README there):
//! every LayerData datagram of a session is decoded, assembled and compared with the server's own
//! heightmap (`*.terrain.r32`), and the encoder is checked against the captured coefficients.
//!
//! Spec: `shared/PROTOCOL.md` §4 and §8. The captures are read at run time.

use std::collections::HashMap;

use super::patch::read_coefficients;
use super::*;
use crate::capture::decode_hex;

/// Zero-decoding for the test only (`00 n` = n zeros); a proper udp module lives elsewhere.
fn zero_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = body.iter();
    while let Some(&b) = it.next() {
        if b == 0 {
            let n = *it.next().expect("zero run without count");
            out.extend(std::iter::repeat_n(0, usize::from(n)));
        } else {
            out.push(b);
        }
    }
    out
}

/// `(LayerID.Type, Data)` of every incoming LayerData (High 11) datagram of a session.
fn layer_data(session: &str) -> Vec<(u8, Vec<u8>)> {
    let text = overlook_testdata::session_udp(session);
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["dir"] != "in" {
            continue;
        }
        let mut datagram = decode_hex(v["hex"].as_str().unwrap()).unwrap();
        let flags = datagram[0];
        assert_eq!(
            flags & 0x10,
            0,
            "appended acks are not expected in these captures"
        );
        if flags & 0x80 != 0 {
            let body = zero_decode(&datagram[6..]);
            datagram.truncate(6);
            datagram.extend(body);
        }
        if datagram[6] != 0x0B {
            continue;
        }
        let len = usize::from(u16::from_le_bytes([datagram[8], datagram[9]]));
        assert_eq!(datagram.len(), 10 + len, "LayerData length field");
        out.push((datagram[7], datagram[10..].to_vec()));
    }
    out
}

fn r32(name: &str, size: u32) -> Heightmap {
    let bytes = overlook_testdata::read_bytes(&format!("{name}.terrain.r32"));
    Heightmap::from_r32(&bytes, size, size).unwrap()
}

struct Outcome {
    map: Heightmap,
    land_packets: usize,
    other_packets: usize,
    patches_per_packet: Vec<usize>,
}

fn decode_session(session: &str, size: u32, land: LayerType) -> Outcome {
    let mut map = Heightmap::new(size, size).unwrap();
    let (mut land_packets, mut other_packets) = (0, 0);
    let mut patches_per_packet = Vec::new();
    for (type_byte, data) in layer_data(session) {
        let decoded = decode_layer(&data, size, size).unwrap();
        assert_eq!(
            decoded.layer.code(),
            type_byte,
            "group header repeats LayerID.Type"
        );
        // The circuit counts patches with the header-only scan: it must see the same ones.
        let positions: Vec<(u32, u32)> = decoded.patches.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(
            super::land_patch_positions(&data, size, size),
            Ok((decoded.layer, positions))
        );
        if decoded.layer.is_land() {
            assert_eq!(decoded.layer, land);
            land_packets += 1;
            patches_per_packet.push(decoded.patches.len());
            for patch in &decoded.patches {
                map.apply(patch).unwrap();
            }
        } else {
            assert_eq!(decoded.layer, LayerType::Wind);
            assert!(decoded.patches.is_empty());
            other_packets += 1;
        }
    }
    Outcome {
        map,
        land_packets,
        other_packets,
        patches_per_packet,
    }
}

/// (mean absolute error, max error, where) of a decoded map against the truth.
fn errors(decoded: &Heightmap, truth: &Heightmap) -> (f64, f32, (usize, usize)) {
    let width = decoded.size_x() as usize;
    let mut sum = 0.0f64;
    let (mut max, mut at) = (0.0f32, (0, 0));
    for (i, (a, b)) in decoded.heights().iter().zip(truth.heights()).enumerate() {
        let e = (a - b).abs();
        sum += f64::from(e);
        if e > max {
            (max, at) = (e, (i % width, i / width));
        }
    }
    (sum / decoded.heights().len() as f64, max, at)
}

fn assert_spot(map: &Heightmap, x: u32, y: u32, want: f32) {
    let got = map.height(x, y).unwrap();
    assert!(
        (got - want).abs() < 0.1,
        "height at ({x},{y}) = {got}, expected {want}"
    );
}

#[test]
fn test_region_capture_decodes_to_the_servers_heightmap() {
    for session in ["test-region", "test-region-fresh"] {
        let out = decode_session(session, 256, LayerType::Land);
        assert!(
            out.map.is_complete(),
            "{session}: missing {:?}",
            out.map.missing().collect::<Vec<_>>()
        );
        assert_eq!(out.map.patches_received(), 256);
        let truth = r32("test-region", 256);
        let (mae, max, at) = errors(&out.map, &truth);
        eprintln!(
            "{session}: {} land packets ({:?} patches each, {} duplicates), {} wind; MAE {mae:.4} m, max {max:.3} m at {at:?}",
            out.land_packets,
            out.patches_per_packet,
            out.map.duplicates(),
            out.other_packets
        );
        assert!(mae < 0.03, "{session}: mean absolute error {mae}");
        assert!(
            out.other_packets >= 1,
            "the wind packets are there and skipped"
        );
        assert_spot(&out.map, 128, 128, 25.0);
        assert_spot(&out.map, 40, 210, 15.0);
        assert_spot(&out.map, 210, 200, -4.0);
    }
}

#[test]
fn var_region_capture_decodes_to_the_servers_heightmap() {
    let out = decode_session("var-region", 512, LayerType::LandExtended);
    assert!(
        out.map.is_complete(),
        "missing {:?}",
        out.map.missing().collect::<Vec<_>>()
    );
    assert_eq!(out.map.patches_received(), 1024);
    let truth = r32("var-region", 512);
    let (mae, max, at) = errors(&out.map, &truth);
    eprintln!(
        "var-region: {} land packets ({:?} patches each, {} duplicates), {} wind; MAE {mae:.4} m, max {max:.3} m at {at:?}",
        out.land_packets,
        out.patches_per_packet,
        out.map.duplicates(),
        out.other_packets
    );
    assert!(mae < 0.02, "mean absolute error {mae}");
    assert_spot(&out.map, 420, 100, 20.0);
    assert_spot(&out.map, 80, 430, 10.0);
    assert_spot(&out.map, 260, 250, 24.48);
}

/// Every captured land patch as (header, coefficients in zig-zag order), by position.
fn captured_patches(session: &str) -> HashMap<(u32, u32), (PatchHeader, [i32; 256])> {
    let mut out = HashMap::new();
    for (_, data) in layer_data(session) {
        let mut r = BitReader::new(&data);
        let group = GroupHeader::read(&mut r).unwrap();
        if !group.layer.is_land() {
            continue;
        }
        while let Some(header) = PatchHeader::read(&mut r, group.layer.has_extended_ids()).unwrap()
        {
            let mut coefs = [0; 256];
            read_coefficients(&mut r, header.wbits(), &mut coefs).unwrap();
            out.insert((header.x, header.y), (header, coefs));
        }
    }
    out
}

/// Encodes the true heights of one patch and reads back (header, coefficients).
fn reencode(
    truth: &Heightmap,
    x: u32,
    y: u32,
    extended: bool,
    prescan: Prescan,
) -> (PatchHeader, [i32; 256], Vec<u8>) {
    let heights = truth.patch(x, y).unwrap();
    let mut w = BitWriter::new();
    encode_patch_with(&mut w, &heights, x, y, extended, prescan);
    let bytes = w.finish();
    let mut r = BitReader::new(&bytes);
    let header = PatchHeader::read(&mut r, extended).unwrap().unwrap();
    let mut coefs = [0; 256];
    read_coefficients(&mut r, header.wbits(), &mut coefs).unwrap();
    (header, coefs, bytes)
}

#[test]
fn reencoding_the_worst_patch_reproduces_the_captured_coefficients() {
    // README: patch (6,6) of Test Region (the noise square's step) has the largest error.
    let truth = r32("test-region", 256);
    let captured = captured_patches("test-region");
    let (cap_header, cap_coefs) = captured[&(6, 6)];
    let (header, coefs, _) = reencode(&truth, 6, 6, false, Prescan::Exact);
    assert_eq!(header, cap_header);
    assert_eq!(coefs, cap_coefs);
    assert!(
        cap_coefs.iter().filter(|&&c| c != 0).count() > 50,
        "a busy patch"
    );

    // The decoded heights are then identical too.
    let decoded = decode_layer(
        &encode_layer(&[(6, 6, &truth.patch(6, 6).unwrap())], false),
        256,
        256,
    )
    .unwrap();
    let out = decode_session("test-region", 256, LayerType::Land);
    assert_eq!(decoded.patches[0].heights, out.map.patch(6, 6).unwrap());
}

#[test]
fn reencoding_every_patch_with_opensims_scan_reproduces_the_captures() {
    for (session, size, extended) in [("test-region", 256, false), ("var-region", 512, true)] {
        let truth = r32(session, size);
        let captured = captured_patches(session);
        assert_eq!(captured.len(), (size / 16 * (size / 16)) as usize);
        let (mut exact_differs, mut flat) = (0, 0);
        for (&(x, y), &(cap_header, cap_coefs)) in &captured {
            let (header, coefs, _) = reencode(&truth, x, y, extended, Prescan::OpenSim0922);
            assert_eq!(
                (header, coefs),
                (cap_header, cap_coefs),
                "{session} patch ({x},{y})"
            );
            flat += usize::from(cap_header.quant_wbits == 0);
            // The exact scan differs only where OpenSim's scan missed the true minimum.
            let (header, coefs, _) = reencode(&truth, x, y, extended, Prescan::Exact);
            if (header, coefs) != (cap_header, cap_coefs) {
                exact_differs += 1;
                assert!(
                    header.dc_offset < cap_header.dc_offset,
                    "{session} ({x},{y})"
                );
            }
        }
        eprintln!(
            "{session}: {} patches ({flat} flat) re-encoded exactly with OpenSim's scan; {exact_differs} differ with the exact scan",
            captured.len()
        );
        assert!(exact_differs * 10 < captured.len());
    }
}

#[test]
fn reencoding_whole_packets_reproduces_the_captured_bytes() {
    for (session, size, extended) in [("test-region", 256, false), ("var-region", 512, true)] {
        let truth = r32(session, size);
        let mut aligned_ends = 0;
        for (_, data) in layer_data(session) {
            let mut r = BitReader::new(&data);
            if !GroupHeader::read(&mut r).unwrap().layer.is_land() {
                continue;
            }
            let mut w = BitWriter::new();
            GroupHeader::opensim(if extended {
                LayerType::LandExtended
            } else {
                LayerType::Land
            })
            .write(&mut w);
            while let Some(header) = PatchHeader::read(&mut r, extended).unwrap() {
                let mut coefs = [0; 256];
                read_coefficients(&mut r, header.wbits(), &mut coefs).unwrap();
                let heights = truth.patch(header.x, header.y).unwrap();
                encode_patch_with(
                    &mut w,
                    &heights,
                    header.x,
                    header.y,
                    extended,
                    Prescan::OpenSim0922,
                );
            }
            w.write_bits(u32::from(patch::END_OF_PATCHES), 8);
            let end_bits = r.bit_pos();
            assert_eq!(w.bit_len(), end_bits);
            aligned_ends += usize::from(end_bits.is_multiple_of(8));
            let ours = w.finish();
            assert_eq!(ours, data, "{session}: bytes");
        }
        eprintln!(
            "{session}: all land packets re-encoded byte for byte ({aligned_ends} ended aligned)"
        );
    }
}

#[test]
fn fast_idct_matches_the_direct_sum_on_every_captured_patch() {
    let (mut patches, mut flat, mut nonzero_area) = (0usize, 0usize, 0usize);
    for (session, size) in [("test-region", 256), ("var-region", 512)] {
        for (_, data) in layer_data(session) {
            for dq in dequantised_blocks(&data, size, size).unwrap() {
                let mut fast = [[dq.addval; 16]; 16];
                dct::inverse_dct_add(&dq.block, dq.rows, dq.cols, &mut fast);
                let mut naive = [[dq.addval; 16]; 16];
                dct::inverse_dct_naive(&dq.block, &mut naive);
                for (f, n) in fast.as_flattened().iter().zip(naive.as_flattened()) {
                    // Heights up to a few hundred metres: a few f32 ulps.
                    assert!((f - n).abs() <= 1e-3 * n.abs().max(1.0), "{f} vs {n}");
                }
                patches += 1;
                flat += usize::from(dq.rows == 0);
                nonzero_area += dq.rows * dq.cols;
            }
        }
    }
    assert_eq!(patches, 1280);
    eprintln!(
        "{patches} patches, {flat} flat, mean rows×cols {:.1}",
        nonzero_area as f64 / patches as f64
    );
}
