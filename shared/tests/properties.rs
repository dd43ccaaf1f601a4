//! Property tests (proptest): the id scanner agrees with the JSON parser,
//! the channel and pattern grammar is exactly the documented one, SigV4
//! canonicalisation matches `aws-sigv4` for any connection id and payload,
//! GCRA admission never exceeds `burst + t × rate` in any window and equals
//! the textbook algorithm, and shard splitting puts every id in exactly one
//! range.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use wsfn::channel::{ChannelName, Pattern};
use wsfn::fanout::shard::{split_rest, IdRange};
use wsfn::protocol::{extract_id, Action, ClientFrame};
use wsfn::store::Gcra;

/// Any JSON value, nested a few levels, strings with quotes, backslashes,
/// commas, braces and non-ASCII.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z,{}\\[\\]\"\\\\:é€ ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\"]{1,5}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Wherever a top-level string `id` sits among other members (objects,
    /// arrays, strings full of JSON punctuation), the scanner finds it, as
    /// the parser does; a nested `id` is never taken for it.
    #[test]
    fn the_id_scanner_agrees_with_the_parser(
        members in prop::collection::vec(("[a-z]{1,6}", json_value()), 0..6),
        id in "[ -~é]{1,20}",
        at in 0usize..7,
        spaced in any::<bool>(),
    ) {
        let mut object = Map::new();
        let mut texts: Vec<String> = Vec::new();
        for (k, v) in &members {
            if k != "id" && !object.contains_key(k) {
                object.insert(k.clone(), v.clone());
                texts.push(format!("{}:{}", json!(k), v));
            }
        }
        let at = at.min(texts.len());
        texts.insert(at, format!("\"id\":{}", json!(id)));
        let sep = if spaced { " , " } else { "," };
        let body = format!("{{{}}}", texts.join(sep));
        let parsed: Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(parsed["id"].as_str(), Some(id.as_str()));
        prop_assert_eq!(extract_id(&body), Some(id));
    }

    /// On any input the scanner returns, and only ever a top-level string id.
    #[test]
    fn the_id_scanner_never_invents_an_id(body in "\\PC{0,80}") {
        if let Some(found) = extract_id(&body) {
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                prop_assert_eq!(v["id"].as_str(), Some(found.as_str()));
            }
        }
    }

    /// Any text: the frame parser answers (never panics); a frame it
    /// refuses still carries the id the scanner finds.
    #[test]
    fn the_frame_parser_answers_anything(body in "\\PC{0,120}") {
        match ClientFrame::parse(&body) {
            Ok(_) => {}
            Err(e) => prop_assert_eq!(e.id, extract_id(&body)),
        }
    }

    /// A well-formed publish, its members in any order with any data, parses
    /// to exactly that publish.
    #[test]
    fn well_formed_publishes_parse_to_themselves(
        channel in "[a-z]{1,8}:[a-z0-9_.-]{1,12}",
        data in json_value(),
        id in prop::option::of("[a-zA-Z0-9-]{1,64}"),
        order in Just(()).prop_perturb(|_, mut rng| {
            let mut o = vec![0usize, 1, 2, 3];
            for i in (1..o.len()).rev() {
                o.swap(i, (rng.next_u32() as usize) % (i + 1));
            }
            o
        }),
    ) {
        let mut members = vec![
            ("\"action\":\"publish\"".to_string()),
            format!("\"channel\":{}", json!(channel)),
            format!("\"data\":{data}"),
            id.as_ref().map(|i| format!("\"id\":{}", json!(i))).unwrap_or_default(),
        ];
        members = order.iter().map(|&i| members[i].clone()).filter(|m| !m.is_empty()).collect();
        let body = format!("{{{}}}", members.join(","));
        let frame = ClientFrame::parse(&body).unwrap();
        prop_assert_eq!(&frame.id, &id);
        match frame.action {
            Action::Publish { channel: c, data: d, ephemeral, echo } => {
                prop_assert_eq!(c.as_str(), channel.as_str());
                prop_assert_eq!(d, data);
                prop_assert!(!ephemeral && echo, "the defaults");
            }
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert_eq!(extract_id(&body), id);
    }

    /// A channel name is 1–128 of `A-Z a-z 0-9 _ - : . @`, nothing else.
    #[test]
    fn channel_names_are_exactly_the_documented_grammar(s in "\\PC{0,140}") {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_-:.@".contains(c);
        let valid = !s.is_empty() && s.len() <= 128 && s.chars().all(allowed);
        prop_assert_eq!(ChannelName::parse(&s).is_ok(), valid, "{:?}", s);
    }

    /// `prefix*` covers exactly the names that start with the prefix; a
    /// name covers exactly itself.
    #[test]
    fn patterns_match_by_prefix_or_exactly(
        prefix in "[a-z:]{0,6}",
        name in "[a-z:]{1,10}",
    ) {
        let channel = ChannelName::parse(&name).unwrap();
        let wildcard = Pattern::parse(&format!("{prefix}*")).unwrap();
        prop_assert_eq!(wildcard.matches(&channel), name.starts_with(&prefix));
        if let Ok(exact) = Pattern::parse(&prefix) {
            prop_assert_eq!(exact.matches(&channel), name == prefix);
        }
    }
}

/// The textbook GCRA (virtual scheduling): admitted when the theoretical
/// arrival time is at most `tolerance` ahead; then it moves one interval
/// past the later of itself and now.
fn reference_gcra(g: &Gcra, tat: &mut u64, now: u64) -> bool {
    if *tat > now + g.tolerance_us() {
        return false;
    }
    *tat = (*tat).max(now) + g.interval_us;
    true
}

proptest! {
    /// Admission equals the textbook algorithm on any arrival sequence, and
    /// in every window of any length at most `burst + length × rate` (plus
    /// one, for a window that starts just before an admission) are admitted.
    #[test]
    fn gcra_is_exact_in_every_window(
        rate in 1u32..2000,
        burst in 1u32..50,
        gaps in prop::collection::vec(0u64..20_000, 1..200),
    ) {
        let g = Gcra::new(f64::from(rate), burst);
        let (mut tat, mut reference) = (None::<u64>, 0u64);
        let mut now = 1_000_000u64;
        let mut admitted = Vec::new();
        for gap in gaps {
            now += gap;
            let ours = match g.next_tat(tat, now) {
                Some(t) => {
                    tat = Some(t);
                    true
                }
                None => false,
            };
            prop_assert_eq!(ours, reference_gcra(&g, &mut reference, now));
            if ours {
                admitted.push(now);
            }
        }
        for (i, &start) in admitted.iter().enumerate() {
            for (j, &end) in admitted.iter().enumerate().skip(i) {
                let span = end - start;
                let bound = u64::from(burst) + span / g.interval_us + 1;
                prop_assert!((j - i + 1) as u64 <= bound, "{} admitted in {span} µs", j - i + 1);
            }
        }
    }

    /// Splitting what follows `after` in a range: the pieces are contiguous,
    /// cover exactly the rest of the range, and every id in it falls in
    /// exactly one piece.
    #[test]
    fn shard_splitting_puts_every_id_in_exactly_one_range(
        bounds in prop::collection::vec("[A-Za-z0-9_-]{1,6}", 2),
        after in "[A-Za-z0-9_-]{1,8}",
        parts in 1usize..40,
        ids in prop::collection::vec("[A-Za-z0-9_-]{1,12}=?", 1..60),
        open_ends in (any::<bool>(), any::<bool>()),
    ) {
        let (mut lo, mut hi) = (bounds[0].clone(), bounds[1].clone());
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        prop_assume!(lo < hi);
        let range = IdRange {
            from: (!open_ends.0).then(|| lo.clone()),
            to: (!open_ends.1).then(|| hi.clone()),
        };
        prop_assume!(range.contains(&after));
        let pieces = split_rest(&range, &after, parts);
        prop_assert!(!pieces.is_empty() && pieces.len() <= parts);
        prop_assert_eq!(&pieces[0].from, &range.from);
        prop_assert_eq!(&pieces.last().unwrap().to, &range.to);
        for pair in pieces.windows(2) {
            prop_assert_eq!(&pair[0].to, &pair[1].from, "contiguous");
        }
        for id in ids.iter().filter(|id| range.contains(id) && id.as_str() > after.as_str()) {
            let holders = pieces.iter().filter(|p| p.contains(id)).count();
            prop_assert_eq!(holders, 1, "{} in {:?}", id, pieces);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// wsfn's SigV4 signs a management call exactly as `aws-sigv4` (the
    /// SDK's signer) does, for any connection id, payload, time and token.
    #[test]
    fn sigv4_matches_the_sdk_signer(
        id in "[A-Za-z0-9+/=_-]{1,24}",
        body in prop::collection::vec(any::<u8>(), 0..200),
        secs in 1_500_000_000u64..2_500_000_000,
        token in prop::option::of("[A-Za-z0-9/+=]{10,40}"),
    ) {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        use aws_smithy_runtime_api::client::identity::Identity;
        use wsfn::sigv4::{amz_date, authorization, sha256_hex, uri_encode, Request, SigningKey};
        let (access, secret) = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let host = "abc123.execute-api.eu-west-1.amazonaws.com";
        let path = format!("/prod/@connections/{}", uri_encode(&id));
        let date = amz_date(secs);
        let key = SigningKey::derive(secret, &date[..8], "eu-west-1", "execute-api");
        let ours = authorization(&key, access, &Request {
            method: "POST",
            host,
            path: &path,
            amz_date: &date,
            session_token: token.as_deref(),
            body_sha256: &sha256_hex(&body),
        });
        let identity: Identity =
            aws_credential_types::Credentials::new(access, secret, token.clone(), None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("execute-api")
            .time(UNIX_EPOCH + Duration::from_secs(secs))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            "POST",
            format!("https://{host}{path}"),
            [("host", host)].into_iter(),
            SignableBody::Bytes(&body),
        )
        .unwrap();
        let (_, theirs) = sign(request, &params).unwrap().into_parts();
        prop_assert!(ours.ends_with(&format!("Signature={theirs}")), "{} vs {}", ours, theirs);
    }
}
