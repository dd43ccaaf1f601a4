//! Wall-clock helpers: one place that reads the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Calendar fields of a Unix time in ms: (year, month 1-12, day, h, m, s, ms).
fn civil(ms: u64) -> (i64, usize, i64, u64, u64, u64, u64) {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m as usize,
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000,
    )
}

#[cfg(feature = "emulator")]
/// `requestContext.requestTime` format: `28/Nov/2026:02:50:09 +0000`.
pub fn format_clf(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, h, mi, s, _) = civil(ms);
    format!("{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000", MONTHS[m - 1])
}

/// ISO 8601 with milliseconds (`2026-11-28T02:50:09.123Z`), as the
/// management API's GetConnection returns.
pub fn format_iso(ms: u64) -> String {
    let (y, m, d, h, mi, s, milli) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// ISO 8601 to the second (`2026-11-28T02:50:09Z`), as EventBridge's
/// `time` field.
pub fn format_iso_secs(ms: u64) -> String {
    let (y, m, d, h, mi, s, _) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    #[test]
    fn clf() {
        assert_eq!(super::format_clf(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(
            super::format_clf(1_795_834_209_000),
            "28/Nov/2026:02:50:09 +0000"
        );
    }
}
