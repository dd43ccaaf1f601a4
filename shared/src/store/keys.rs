//! Every key shape of the single DynamoDB table, in one place. The table has a
//! string partition key `pk`, a string sort key `sk`, and a number `ttl`.
//!
//! | item | pk | sk | read by |
//! |---|---|---|---|
//! | connection | `conn#{id}` | `meta` | every message (GetItem) |
//! | connection's subscription | `conn#{id}` | `sub#{channel}` | disconnect, sub count (Query) |
//! | channel subscriber | `chan#{channel}` | `sub#{id}` | fan-out, presence (Query, paged) |
//! | channel stream head | `chan#{channel}` | `stream` | subscribe, publish (GetItem) |
//! | history entry | `chan#{channel}` | `msg#{seq:020}` | history, recovery (Query) |
//! | user's connection | `user#{sub}` | `conn#{id}` | connect limit (Query, COUNT) |
//! | idempotency record | `user#{sub}` | `idem#{id}` | publish (conditional Put in the transaction) |
//! | rate window | `conn#{id}` | `rate#{window}` | every frame (UpdateItem ADD) |

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// TTL attribute (epoch seconds), enabled as the table's TTL.
pub const TTL: &str = "ttl";
/// Sort key of a connection record and its subscription items' prefix.
pub const META: &str = "meta";
/// Sort key of a channel's stream head.
pub const STREAM: &str = "stream";
/// Prefix of subscription sort keys (both directions).
pub const SUB_PREFIX: &str = "sub#";
/// Prefix of history entries.
pub const MSG_PREFIX: &str = "msg#";

/// Partition of a connection's items.
pub fn conn_pk(id: &str) -> String {
    format!("conn#{id}")
}
/// Partition of a channel's items.
pub fn chan_pk(channel: &str) -> String {
    format!("chan#{channel}")
}
/// Partition of a user's connection index.
pub fn user_pk(user: &str) -> String {
    format!("user#{user}")
}
/// Sort key of a subscription item (`channel` under a connection, or a
/// connection id under a channel).
pub fn sub_sk(other: &str) -> String {
    format!("{SUB_PREFIX}{other}")
}
/// Sort key of a user's connection entry.
pub fn user_conn_sk(id: &str) -> String {
    format!("conn#{id}")
}
/// Sort key of a user's idempotency record for a publish id.
pub fn idem_sk(id: &str) -> String {
    format!("idem#{id}")
}
/// Sort key of a connection's rate-limit window.
pub fn rate_sk(window: u64) -> String {
    format!("rate#{window}")
}
/// Sort key of a history entry; zero-padded so string order is seq order.
pub fn msg_sk(seq: u64) -> String {
    format!("{MSG_PREFIX}{seq:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(conn_pk("ab="), "conn#ab=");
        assert_eq!(chan_pk("room:a"), "chan#room:a");
        assert_eq!(user_pk("alice"), "user#alice");
        assert_eq!(sub_sk("room:a"), "sub#room:a");
        assert_eq!(user_conn_sk("x"), "conn#x");
        assert_eq!(msg_sk(42), "msg#00000000000000000042");
        assert_eq!(idem_sk("p1"), "idem#p1");
        assert_eq!(rate_sk(7), "rate#7");
        assert!(msg_sk(9) < msg_sk(10));
    }
}
