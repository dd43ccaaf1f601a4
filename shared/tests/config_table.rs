//! The configuration table (`wsfn::config::VARS`) is the one source: the
//! parser reads exactly its variables with its defaults and bounds, and
//! `docs/protocol.md` §4 is its rendering. (wsfn-local passes exactly these
//! variables through: `local/tests/config_passthrough.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use wsfn::config::{Config, DEFAULT_SHARD_SIZE, MAX_MESSAGE_BYTES_LIMIT, VARS};

fn var(name: &str) -> &'static wsfn::config::Var {
    VARS.iter().find(|v| v.name == name).unwrap()
}

/// The §4 table as the document has it.
fn documented() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .unwrap();
    let section = &doc[doc.find("## 4. Configuration").unwrap()..];
    let section = &section[..section.find("\n## 5.").unwrap()];
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(str::to_string)
        .collect()
}

/// A row rendered from the table.
fn rendered(v: &wsfn::config::Var) -> String {
    let meaning = match v.bounds {
        Some((min, max)) => format!("{min}–{max}; {}", v.meaning),
        None => v.meaning.to_string(),
    };
    format!("| `{}` | {} | {} |", v.name, v.default, meaning)
}

#[test]
fn the_document_is_the_table() {
    let want: Vec<String> = VARS.iter().map(rendered).collect();
    let got = documented();
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w, "docs/protocol.md §4 differs from wsfn::config::VARS");
    }
    assert_eq!(got.len(), want.len(), "docs/protocol.md §4 has other rows");
}

#[test]
fn numeric_defaults_parse_and_lie_within_their_bounds() {
    for v in VARS {
        if let Some((min, max)) = v.bounds {
            let d: u64 = v.default.parse().unwrap_or_else(|_| panic!("{}", v.name));
            assert!((min..=max).contains(&d), "{}", v.name);
        }
    }
    assert_eq!(
        var("MAX_MESSAGE_BYTES").bounds.unwrap().1,
        MAX_MESSAGE_BYTES_LIMIT as u64
    );
    assert_eq!(
        var("FANOUT_SHARD_SIZE").default,
        DEFAULT_SHARD_SIZE.to_string()
    );
    let names: BTreeSet<_> = VARS.iter().map(|v| v.name).collect();
    assert_eq!(names.len(), VARS.len(), "a variable listed twice");
}

/// Parses `env`, recording every variable the parser asks for.
fn read(env: &[(&str, &str)]) -> (Result<Config, wsfn::config::ConfigError>, BTreeSet<String>) {
    let asked = RefCell::new(BTreeSet::new());
    let map: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = |k: &str| {
        asked.borrow_mut().insert(k.to_string());
        map.get(k).cloned()
    };
    let config = Config::from_lookup(&lookup);
    (config, asked.into_inner())
}

#[test]
fn the_parser_reads_exactly_the_table() {
    let (config, asked) = read(&[
        ("TABLE_NAME", "t"),
        ("JWT_SECRET", "a-secret-of-some-length"),
        (
            "HOOKS",
            r#"{"publish": {"target": "http://127.0.0.1:9/p"}}"#,
        ),
        ("HOOK_SECRET", "a-hook-secret-of-16+"),
        (
            "HOOK_FUNCTIONS",
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
        ),
    ]);
    config.unwrap();
    let table: BTreeSet<String> = VARS.iter().map(|v| v.name.to_string()).collect();
    let unknown: Vec<_> = asked.difference(&table).collect();
    assert!(unknown.is_empty(), "read but not in the table: {unknown:?}");
    // The two secret ARNs are resolved into their variables at cold start
    // (wsfn::bootstrap), before the parser runs.
    let unread: Vec<_> = table
        .difference(&asked)
        .filter(|v| !v.ends_with("_SECRET_ARN"))
        .collect();
    assert!(unread.is_empty(), "in the table but never read: {unread:?}");
}

#[test]
fn defaults_and_bounds_come_from_the_table() {
    let base = [
        ("TABLE_NAME", "t"),
        ("JWT_SECRET", "a-secret-of-some-length"),
    ];
    let (config, _) = read(&base);
    let c = config.unwrap();
    let default = |name: &str| var(name).default.parse::<u64>().unwrap();
    assert_eq!(
        u64::from(c.max_connections_per_user),
        default("MAX_CONNECTIONS_PER_USER")
    );
    assert_eq!(u64::from(c.rate_limit_burst), default("RATE_LIMIT_BURST"));
    assert_eq!(c.history_ttl.as_secs(), default("HISTORY_TTL_SECONDS"));
    assert_eq!(c.revoke_ttl.as_secs(), default("REVOKE_TTL_SECONDS"));
    for v in VARS.iter().filter(|v| v.bounds.is_some()) {
        let (min, max) = v.bounds.unwrap();
        for (value, ok) in [(min, true), (max, true), (max + 1, false)] {
            let value = value.to_string();
            let mut env = base.to_vec();
            env.push((v.name, &value));
            let (config, _) = read(&env);
            match config {
                Ok(_) => assert!(ok, "{} = {value} accepted", v.name),
                Err(e) => {
                    assert!(!ok, "{} = {value} refused: {e}", v.name);
                    assert!(e.to_string().contains(v.name), "{e}");
                }
            }
        }
    }
}
