//! Item ↔ struct conversion for the DynamoDB backend, in one place and
//! tested without a database. Key shapes and attribute names come from
//! [`super::keys`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, attr, PK, SK, TTL};
use super::{ConnectionRecord, StoreError, StreamHead, Subscriber};
use crate::protocol::MessageFrame;

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute value.
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
/// A number attribute value.
pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
/// A key item.
pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}
/// A string attribute of an item.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
/// A number attribute of an item.
pub(crate) fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
/// Whether an item's TTL is still in the future.
pub(crate) fn live(item: &Item, now: u64) -> bool {
    get_n(item, TTL).is_some_and(|t| t > now)
}

/// The connection record item.
pub(crate) fn connection_item(conn: &ConnectionRecord, exp: u64) -> Result<Item, StoreError> {
    let principal = serde_json::to_string(&conn.principal).map_err(|e| StoreError::Corrupt {
        what: "principal".into(),
        source: Some(e.into()),
    })?;
    let mut item = key(keys::conn_pk(&conn.id), keys::META);
    item.insert(attr::ID.into(), s(&conn.id));
    item.insert(attr::USER.into(), s(&conn.principal.sub));
    item.insert(attr::PRINCIPAL.into(), s(principal));
    item.insert(attr::CONNECTED_AT.into(), n(conn.connected_at));
    item.insert(attr::SUBS.into(), n(0));
    item.insert(TTL.into(), n(exp));
    Ok(item)
}

/// A connection record from its item.
pub(crate) fn connection_of(item: &Item) -> Result<ConnectionRecord, StoreError> {
    let what = || format!("connection {:?}", get_s(item, PK));
    let id = get_s(item, attr::ID).ok_or_else(|| StoreError::corrupt(what()))?;
    let raw = get_s(item, attr::PRINCIPAL).ok_or_else(|| StoreError::corrupt(what()))?;
    let principal = serde_json::from_str(raw).map_err(|e| StoreError::Corrupt {
        what: what(),
        source: Some(e.into()),
    })?;
    Ok(ConnectionRecord {
        id: id.to_string(),
        principal,
        connected_at: get_n(item, attr::CONNECTED_AT).ok_or_else(|| StoreError::corrupt(what()))?,
    })
}

/// The two subscription items: the connection's and the channel's.
pub(crate) fn subscription_items(conn: &ConnectionRecord, channel: &str, exp: u64) -> [Item; 2] {
    let mut mine = key(keys::conn_pk(&conn.id), keys::sub_sk(channel));
    mine.insert(attr::CHANNEL.into(), s(channel));
    mine.insert(TTL.into(), n(exp));
    let mut theirs = key(keys::chan_pk(channel), keys::sub_sk(&conn.id));
    theirs.insert(attr::CONN.into(), s(&conn.id));
    theirs.insert(attr::USER.into(), s(&conn.principal.sub));
    if let Some(info) = &conn.principal.info {
        theirs.insert(attr::INFO.into(), s(info.to_string()));
    }
    theirs.insert(TTL.into(), n(exp));
    [mine, theirs]
}

/// A subscriber from a channel subscriber item.
pub(crate) fn subscriber_of(item: &Item) -> Option<Subscriber> {
    Some(Subscriber {
        connection_id: get_s(item, attr::CONN)?.to_string(),
        user: get_s(item, attr::USER)?.to_string(),
        info: get_s(item, attr::INFO).and_then(|i| serde_json::from_str(i).ok()),
    })
}

/// The stream head item.
pub(crate) fn stream_item(channel: &str, head: &StreamHead, exp: u64) -> Item {
    let mut item = key(keys::chan_pk(channel), keys::STREAM);
    item.insert(attr::SEQ.into(), n(head.seq));
    item.insert(attr::EPOCH.into(), s(&head.epoch));
    item.insert(TTL.into(), n(exp));
    item
}

/// A stream head from its item.
pub(crate) fn head_of(item: &Item) -> Result<StreamHead, StoreError> {
    match (get_n(item, attr::SEQ), get_s(item, attr::EPOCH)) {
        (Some(seq), Some(epoch)) => Ok(StreamHead {
            seq,
            epoch: epoch.to_string(),
        }),
        _ => Err(StoreError::corrupt("stream head")),
    }
}

/// The history entry item of a message.
pub(crate) fn history_item(frame: &MessageFrame, exp: u64) -> Result<Item, StoreError> {
    let json = serde_json::to_string(frame).map_err(|e| StoreError::Corrupt {
        what: "history entry".into(),
        source: Some(e.into()),
    })?;
    let mut item = key(keys::chan_pk(&frame.channel), keys::msg_sk(frame.seq));
    item.insert(attr::MSG.into(), s(json));
    item.insert(attr::EPOCH.into(), s(&frame.epoch));
    item.insert(TTL.into(), n(exp));
    Ok(item)
}

/// A message from its history entry item.
pub(crate) fn message_of(item: &Item) -> Result<MessageFrame, StoreError> {
    let raw = get_s(item, attr::MSG).ok_or_else(|| StoreError::corrupt("history entry"))?;
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt {
        what: "history entry".into(),
        source: Some(e.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;

    fn conn() -> ConnectionRecord {
        ConnectionRecord {
            id: "c1=".into(),
            principal: Principal {
                sub: "alice".into(),
                exp: 99,
                subscribe: vec!["room:*".into()],
                publish: vec![],
                rate: Some(2.5),
                iat: 0,
                info: None,
                granted: None,
            },
            connected_at: 1234,
        }
    }

    #[test]
    fn connection_round_trip() {
        let item = connection_item(&conn(), 500).unwrap();
        assert_eq!(get_s(&item, PK), Some("conn#c1="));
        assert_eq!(get_s(&item, SK), Some("meta"));
        assert_eq!(get_n(&item, attr::SUBS), Some(0));
        assert!(live(&item, 499) && !live(&item, 500));
        assert_eq!(connection_of(&item).unwrap(), conn());
        let mut broken = item.clone();
        broken.insert(attr::PRINCIPAL.into(), s("{"));
        assert!(matches!(
            connection_of(&broken),
            Err(StoreError::Corrupt {
                source: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn subscription_and_stream_items() {
        let [mine, theirs] = subscription_items(&conn(), "room:a", 7);
        assert_eq!(get_s(&mine, PK), Some("conn#c1="));
        assert_eq!(get_s(&mine, SK), Some("sub#room:a"));
        assert_eq!(get_s(&theirs, PK), Some("chan#room:a"));
        assert_eq!(
            subscriber_of(&theirs),
            Some(Subscriber {
                connection_id: "c1=".into(),
                user: "alice".into(),
                info: None,
            })
        );
        let head = StreamHead {
            seq: 4,
            epoch: "e".into(),
        };
        assert_eq!(head_of(&stream_item("room:a", &head, 1)).unwrap(), head);
        assert!(head_of(&key("a".into(), "b")).is_err());
        let frame = MessageFrame {
            channel: "room:a".into(),
            seq: 3,
            epoch: "e".into(),
            data: serde_json::json!({"x": 1}),
            from: "alice".into(),
            ts: 5,
            id: None,
            ephemeral: false,
        };
        let entry = history_item(&frame, 9).unwrap();
        assert_eq!(get_s(&entry, SK), Some("msg#00000000000000000003"));
        assert_eq!(message_of(&entry).unwrap(), frame);
    }
}
