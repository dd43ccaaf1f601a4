//! Every key shape and attribute name of the single DynamoDB table, in one
//! place. The table has a string partition key `pk`, a string sort key `sk`,
//! and a number `ttl` (epoch seconds) on every item.
//!
//! | item | pk | sk | attributes | read by |
//! |---|---|---|---|---|
//! | connection | `conn#{id}` | `meta` | `id`, `user`, `principal`, `connected_at`, `subs`, `tat` (rate state, µs) | every frame (GetItem; UpdateItem of `tat`) |
//! | connection's subscription | `conn#{id}` | `sub#{channel}` | `channel` | disconnect (Query) |
//! | channel subscriber | `chan#{channel}` | `sub#{id}` | `conn`, `user` | fan-out, presence (Query, paged) |
//! | channel stream head | `chan#{channel}` | `stream` | `seq`, `epoch` | subscribe, publish (GetItem) |
//! | history entry | `chan#{channel}` | `msg#{seq:020}` | `msg`, `epoch` | history, recovery (Query) |
//! | user's connections | `user#{sub}` | `conns` | `ids` (string set) | connect limit (conditional UpdateItem) |
//! | idempotency record | `user#{sub}` or `server#publish` | `idem#{id}` | `channel`, `seq`, `fp` | publish (conditional Put in the transaction) |

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// TTL attribute (epoch seconds), enabled as the table's TTL.
pub const TTL: &str = "ttl";

/// Sort key of a connection record.
pub(crate) const META: &str = "meta";
/// Sort key of a channel's stream head.
pub(crate) const STREAM: &str = "stream";
/// Sort key of a user's connection set.
pub const CONNS: &str = "conns";
/// Prefix of a connection's partition.
pub const CONN_PREFIX: &str = "conn#";
/// Prefix of a channel's partition.
pub(crate) const CHAN_PREFIX: &str = "chan#";
/// Prefix of a user's partition.
pub const USER_PREFIX: &str = "user#";
/// Prefix of subscription sort keys (both directions).
pub const SUB_PREFIX: &str = "sub#";
/// The first sort key after every subscription sort key (`#` + 1 = `$`).
pub(crate) const SUB_END: &str = "sub$";
/// Prefix of history entries.
pub(crate) const MSG_PREFIX: &str = "msg#";

/// Attribute names, one constant each.
pub mod attr {
    /// Connection id (connection record, channel subscriber).
    pub const ID: &str = "id";
    /// User `sub` (connection record, channel subscriber).
    pub(crate) const USER: &str = "user";
    /// Serialized principal (connection record).
    pub(crate) const PRINCIPAL: &str = "principal";
    /// Open time in ms (connection record).
    pub(crate) const CONNECTED_AT: &str = "connected_at";
    /// Counted subscriptions (connection record).
    pub(crate) const SUBS: &str = "subs";
    /// Subscribed channel (connection's subscription).
    pub const CHANNEL: &str = "channel";
    /// Subscribed connection (channel subscriber).
    pub(crate) const CONN: &str = "conn";
    /// Latest seq (stream head) or original seq (idempotency record).
    pub(crate) const SEQ: &str = "seq";
    /// Stream epoch (stream head, history entry).
    pub(crate) const EPOCH: &str = "epoch";
    /// Stored message frame JSON (history entry).
    pub(crate) const MSG: &str = "msg";
    /// Fingerprint of channel + payload (idempotency record).
    pub(crate) const FP: &str = "fp";
    /// Connection ids (user's connection set).
    pub(crate) const IDS: &str = "ids";
    /// Theoretical arrival time in µs (rate state).
    pub const TAT: &str = "tat";
    /// A subscriber's member data (`info` claim), JSON.
    pub const INFO: &str = "info";
    /// Revocation watermark on a user's set: tokens issued before it are refused.
    pub(crate) const REVOKED: &str = "rev";
    /// Until when the revocation holds (seconds).
    pub(crate) const REVOKED_UNTIL: &str = "revu";
}

/// Partition of a connection's items.
pub(crate) fn conn_pk(id: &str) -> String {
    format!("{CONN_PREFIX}{id}")
}
/// Partition of a channel's items.
pub(crate) fn chan_pk(channel: &str) -> String {
    format!("{CHAN_PREFIX}{channel}")
}
/// Partition of a user's items.
pub(crate) fn user_pk(user: &str) -> String {
    format!("{USER_PREFIX}{user}")
}
/// Sort key of a subscription item (`channel` under a connection, or a
/// connection id under a channel).
pub(crate) fn sub_sk(other: &str) -> String {
    format!("{SUB_PREFIX}{other}")
}
/// Sort key of a user's membership item under a channel (presence events).
pub(crate) fn member_sk(user: &str) -> String {
    format!("{MEMBER_PREFIX}{user}")
}
/// Prefix of membership sort keys.
pub(crate) const MEMBER_PREFIX: &str = "mem#";
/// Partition of the server's (the publish function's) idempotency records.
pub(crate) const SERVER_PK: &str = "server#publish";

/// Partition of an idempotency scope's records.
pub(crate) fn idem_pk(scope: &super::IdemScope) -> String {
    match scope {
        super::IdemScope::User(sub) => user_pk(sub),
        super::IdemScope::Server => SERVER_PK.to_string(),
    }
}

/// Sort key of an idempotency record for a publish id.
pub(crate) fn idem_sk(id: &str) -> String {
    format!("idem#{id}")
}
/// Sort key of a history entry; zero-padded so string order is seq order.
pub(crate) fn msg_sk(seq: u64) -> String {
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
        assert_eq!(msg_sk(42), "msg#00000000000000000042");
        assert_eq!(idem_sk("p1"), "idem#p1");
        assert!(msg_sk(9) < msg_sk(10));
    }
}
