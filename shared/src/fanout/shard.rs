//! Splitting a big channel's subscribers among fan-out invocations.
//!
//! A channel's subscriber items are sorted by connection id (`sub#{id}`),
//! and API Gateway connection ids are random base64, so the id space can be
//! cut into ranges holding about equal numbers of subscribers without
//! counting them: after reading `n` subscribers from the start of a range
//! up to id `c`, the rest of the range holds about
//! `n × (end − c) ÷ (c − start)` more (`estimate_rest`). Ranges partition
//! the id space, so every subscriber is in exactly one of them whatever the
//! ids look like; a skewed id distribution costs balance, never delivery (a
//! shard that finds its range too big splits it again, up to [`MAX_DEPTH`]).

pub use crate::store::IdRange;

/// The URL-safe base64 alphabet of API Gateway's connection ids
/// (`GKrc-cWoIAMCJvA=`), in byte order, which is DynamoDB's sort order for
/// string keys. Other characters sort between their neighbours here.
const ALPHABET: &[u8] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// Characters of an id that [`position`] looks at, and of a split point.
const DIGITS: u32 = 4;
/// How many times a range may be split again below the publisher.
pub const MAX_DEPTH: u8 = 3;
/// Most shards one invocation hands out.
pub(crate) const MAX_SHARDS: usize = 1000;

impl IdRange {
    fn start(&self) -> f64 {
        self.from.as_deref().map_or(0.0, position)
    }

    fn end(&self) -> f64 {
        self.to.as_deref().map_or(1.0, position)
    }
}

fn rank(c: u8) -> usize {
    // Characters outside the alphabet sort between its neighbours.
    ALPHABET.partition_point(|&a| a < c).min(ALPHABET.len() - 1)
}

/// Where `id` lies in the id space, in `[0, 1)`, from its first characters.
pub fn position(id: &str) -> f64 {
    let base = ALPHABET.len() as f64;
    let mut p = 0.0;
    let mut scale = 1.0;
    for &c in id.as_bytes().iter().take(DIGITS as usize) {
        scale /= base;
        p += rank(c) as f64 * scale;
    }
    p
}

/// The shortest-enough id prefix at `p` in `[0, 1)`: ids at or after it
/// have `position` ≥ about `p`.
fn point(p: f64) -> String {
    let base = ALPHABET.len();
    let mut x = p.clamp(0.0, 1.0);
    let mut s = String::with_capacity(DIGITS as usize);
    for _ in 0..DIGITS {
        x *= base as f64;
        let d = (x.floor() as usize).min(base - 1);
        s.push(ALPHABET[d] as char);
        x -= d as f64;
    }
    s
}

/// About how many subscribers follow the `read` ones in `range`, the last
/// of which was `last`.
pub(crate) fn estimate_rest(range: &IdRange, read: usize, last: &str) -> usize {
    let (start, end, at) = (range.start(), range.end(), position(last));
    let covered = (at - start).max(0.0);
    if covered <= f64::EPSILON {
        return usize::MAX;
    }
    ((read as f64) * (end - at).max(0.0) / covered).ceil() as usize
}

/// Cuts what follows id `after` in `range` into `parts` ranges of about
/// equal id space. The first starts right after `after` (the caller reads
/// it with `after` as its cursor); together they cover exactly the rest of
/// `range`. Split points that would not advance are dropped, so fewer
/// ranges may come back.
pub fn split_rest(range: &IdRange, after: &str, parts: usize) -> Vec<IdRange> {
    let (start, end) = (position(after), range.end());
    let parts = parts.clamp(1, MAX_SHARDS);
    let mut cuts: Vec<String> = Vec::new();
    for i in 1..parts {
        let cut = point(start + (end - start) * i as f64 / parts as f64);
        let above_prev = cuts.last().map_or(cut.as_str() > after, |c| cut > *c);
        let below_end = range.to.as_deref().is_none_or(|t| cut.as_str() < t);
        if above_prev && below_end {
            cuts.push(cut);
        }
    }
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut from = range.from.clone();
    for cut in cuts {
        ranges.push(IdRange {
            from,
            to: Some(cut.clone()),
        });
        from = Some(cut);
    }
    ranges.push(IdRange {
        from,
        to: range.to.clone(),
    });
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_id() -> String {
        use base64::Engine;
        let bytes: [u8; 11] = rand::random();
        base64::engine::general_purpose::URL_SAFE.encode(bytes)
    }

    #[test]
    fn positions_follow_sort_order() {
        let mut ids: Vec<String> = (0..2000).map(|_| random_id()).collect();
        ids.sort();
        for w in ids.windows(2) {
            assert!(position(&w[0]) <= position(&w[1]), "{} {}", w[0], w[1]);
        }
        assert!(position("") < 1e-12);
        assert!(position("zzzz") < 1.0);
    }

    #[test]
    fn points_round_trip() {
        for p in [0.0, 0.1, 0.25, 0.5, 0.9, 0.999] {
            assert!((position(&point(p)) - p).abs() < 1e-6, "{p}");
        }
    }

    #[test]
    fn split_covers_the_rest_exactly_once() {
        let mut ids: Vec<String> = (0..20_000).map(|_| random_id()).collect();
        ids.sort();
        let range = IdRange::ALL;
        let after = &ids[999];
        let rest = estimate_rest(&range, 1000, after);
        assert!((17_000..21_000).contains(&rest), "estimate {rest}");
        let shards = split_rest(&range, after, 19);
        assert_eq!(shards.len(), 19);
        let mut seen = 0;
        let mut sizes = Vec::new();
        for id in &ids[1000..] {
            let holders = shards.iter().filter(|r| r.contains(id)).count();
            assert_eq!(holders, 1, "{id} in {holders} ranges");
            seen += 1;
        }
        assert_eq!(seen, 19_000);
        for r in &shards[1..] {
            sizes.push(ids.iter().filter(|id| r.contains(id)).count());
        }
        // Balanced within a factor of two (random ids).
        assert!(sizes.iter().all(|&s| (500..2000).contains(&s)), "{sizes:?}");
        // Nothing before `after` falls in a shard other than the first,
        // which the caller reads from after `after`.
        for id in &ids[..1000] {
            assert!(shards[1..].iter().all(|r| !r.contains(id)));
        }
    }

    #[test]
    fn splitting_a_subrange_stays_inside_it() {
        let range = IdRange {
            from: Some("M".into()),
            to: Some("N".into()),
        };
        let shards = split_rest(&range, "MAAA", 8);
        assert!(shards.len() > 1);
        assert_eq!(shards[0].from.as_deref(), Some("M"));
        assert_eq!(shards.last().and_then(|r| r.to.as_deref()), Some("N"));
        for w in shards.windows(2) {
            assert_eq!(w[0].to, w[1].from);
        }
        // A range too narrow to cut comes back whole.
        let narrow = IdRange {
            from: Some("MAAA".into()),
            to: Some("MAAB".into()),
        };
        assert_eq!(split_rest(&narrow, "MAAAx", 10), vec![narrow.clone()]);
    }
}
