//! Property tests of the template-driven generic codec over every message in the template:
//! random messages round-trip, random bodies never panic, truncated bodies are rejected.
// The strategies index the template by a generated index that is always in range.
#![allow(clippy::indexing_slicing)]

use overlook_protocol::message::generic::{decode, encode};
use overlook_protocol::message::template::{BlockKind, FieldType, template};
use overlook_protocol::message::{FieldValue, GenericBlock, GenericMessage};
use overlook_protocol::types::{Quat, Uuid, Vec3, Vec3d, Vec4};
use proptest::collection::vec;
use proptest::prelude::*;

#[test]
fn zero_values_fit_every_template_field() {
    for def in template().messages() {
        let mut blocks = Vec::new();
        for b in &def.blocks {
            let reps = match b.kind {
                BlockKind::Multiple(n) => usize::from(n),
                BlockKind::Single | BlockKind::Variable => 1,
            };
            let fields = b
                .fields
                .iter()
                .map(|f| (f.name.as_str(), FieldValue::zero(f.ty)));
            let one = GenericBlock {
                name: b.name.as_str(),
                fields: fields.collect(),
            };
            blocks.extend(core::iter::repeat_n(one, reps));
        }
        let m = GenericMessage {
            name: def.name.as_str(),
            id: def.id,
            blocks,
            omitted: 0,
        };
        let bytes = encode(&m).unwrap();
        let back = decode(def.id, &bytes).unwrap();
        assert_eq!(back, m, "{}", def.name);
        // All zero but the Variable blocks' counts of 1; the length is the template's.
        let mut len = 0;
        for b in &def.blocks {
            let per_block: usize = b
                .fields
                .iter()
                .map(|f| match f.ty {
                    FieldType::Variable(w) => usize::from(w),
                    ty => ty.fixed_size().unwrap(),
                })
                .sum();
            len += match b.kind {
                BlockKind::Single => per_block,
                BlockKind::Multiple(n) => usize::from(n) * per_block,
                BlockKind::Variable => 1 + per_block,
            };
        }
        assert_eq!(bytes.len(), len, "{}", def.name);
        let variable = def.blocks.iter().filter(|b| b.kind == BlockKind::Variable);
        assert_eq!(
            bytes.iter().map(|b| usize::from(*b)).sum::<usize>(),
            variable.count()
        );
    }
}

/// Any value of a field type (NaN floats included).
fn value(ty: FieldType) -> BoxedStrategy<FieldValue> {
    let f32s = || (any::<f32>(), any::<f32>(), any::<f32>());
    match ty {
        FieldType::U8 => any::<u8>().prop_map(FieldValue::U8).boxed(),
        FieldType::U16 => any::<u16>().prop_map(FieldValue::U16).boxed(),
        FieldType::U32 => any::<u32>().prop_map(FieldValue::U32).boxed(),
        FieldType::U64 => any::<u64>().prop_map(FieldValue::U64).boxed(),
        FieldType::S8 => any::<i8>().prop_map(FieldValue::S8).boxed(),
        FieldType::S16 => any::<i16>().prop_map(FieldValue::S16).boxed(),
        FieldType::S32 => any::<i32>().prop_map(FieldValue::S32).boxed(),
        FieldType::S64 => any::<i64>().prop_map(FieldValue::S64).boxed(),
        FieldType::F32 => any::<f32>().prop_map(FieldValue::F32).boxed(),
        FieldType::F64 => any::<f64>().prop_map(FieldValue::F64).boxed(),
        FieldType::Bool => any::<bool>().prop_map(FieldValue::Bool).boxed(),
        FieldType::Uuid => any::<[u8; 16]>()
            .prop_map(|b| FieldValue::Uuid(Uuid(b)))
            .boxed(),
        FieldType::Vec3 => f32s()
            .prop_map(|(x, y, z)| FieldValue::Vec3(Vec3 { x, y, z }))
            .boxed(),
        FieldType::Vec3d => (any::<f64>(), any::<f64>(), any::<f64>())
            .prop_map(|(x, y, z)| FieldValue::Vec3d(Vec3d { x, y, z }))
            .boxed(),
        FieldType::Vec4 => (f32s(), any::<f32>())
            .prop_map(|((x, y, z), w)| FieldValue::Vec4(Vec4 { x, y, z, w }))
            .boxed(),
        FieldType::Quat => f32s()
            .prop_map(|(x, y, z)| FieldValue::Quat(Quat::from_xyz(x, y, z)))
            .boxed(),
        FieldType::IpAddr => any::<[u8; 4]>()
            .prop_map(|b| FieldValue::IpAddr(b.into()))
            .boxed(),
        FieldType::IpPort => any::<u16>().prop_map(FieldValue::IpPort).boxed(),
        FieldType::Variable(1) => vec(any::<u8>(), 0..=255)
            .prop_map(FieldValue::Bytes)
            .boxed(),
        FieldType::Variable(_) => vec(any::<u8>(), 0..=700)
            .prop_map(FieldValue::Bytes)
            .boxed(),
        FieldType::Fixed(n) => vec(any::<u8>(), n).prop_map(FieldValue::Bytes).boxed(),
    }
}

/// A message of any template kind with arbitrary values and `Variable` counts of 0–3.
fn message() -> impl Strategy<Value = GenericMessage> {
    (0..template().messages().len()).prop_flat_map(|i| {
        let def = &template().messages()[i];
        let blocks: Vec<_> = def
            .blocks
            .iter()
            .map(|b| {
                let one = b
                    .fields
                    .iter()
                    .map(|f| value(f.ty).prop_map(move |v| (f.name.as_str(), v)))
                    .collect::<Vec<_>>()
                    .prop_map(move |fields| GenericBlock {
                        name: b.name.as_str(),
                        fields,
                    });
                let reps = match b.kind {
                    BlockKind::Single => 1..=1,
                    BlockKind::Multiple(n) => usize::from(n)..=usize::from(n),
                    BlockKind::Variable => 0..=3,
                };
                vec(one, reps)
            })
            .collect();
        // Trailing Variable blocks may be left out (not the first block).
        let trailing = def
            .blocks
            .iter()
            .skip(1)
            .rev()
            .take_while(|b| b.kind == BlockKind::Variable)
            .count();
        (blocks, 0..=trailing).prop_map(move |(mut blocks, omitted)| {
            blocks.truncate(def.blocks.len() - omitted);
            GenericMessage {
                name: def.name.as_str(),
                id: def.id,
                blocks: blocks.into_iter().flatten().collect(),
                omitted,
            }
        })
    })
}

proptest! {
    #[test]
    fn random_messages_round_trip(m in message()) {
        let bytes = encode(&m).unwrap();
        let back = decode(m.id, &bytes).unwrap();
        // Debug text equality, since NaN != NaN; the bytes pin the bits.
        prop_assert_eq!(format!("{back:?}"), format!("{m:?}"));
        prop_assert_eq!(encode(&back).unwrap(), bytes);
    }

    #[test]
    fn random_bodies_never_panic(
        i in 0..template().messages().len(),
        body in vec(any::<u8>(), 0..400),
    ) {
        let id = template().messages()[i].id;
        if let Ok(m) = decode(id, &body) {
            let _ = m.to_string();
            let again = encode(&m).unwrap();
            prop_assert_eq!(again.len(), body.len());
            let back = decode(id, &again).unwrap();
            prop_assert_eq!(format!("{back:?}"), format!("{m:?}"));
        }
    }

    /// A cut body is an error, unless the cut falls exactly where trailing Variable blocks
    /// begin: then it is the same message with those blocks omitted.
    #[test]
    fn prefixes_of_valid_bodies_are_rejected(m in message(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&m).unwrap();
        if !bytes.is_empty() {
            let n = cut.index(bytes.len());
            if let Ok(short) = decode(m.id, &bytes[..n]) {
                prop_assert!(short.omitted > m.omitted);
                let kept = &m.blocks[..short.blocks.len()];
                prop_assert_eq!(format!("{kept:?}"), format!("{:?}", short.blocks));
                prop_assert_eq!(encode(&short).unwrap(), &bytes[..n]);
            }
        }
    }
}
