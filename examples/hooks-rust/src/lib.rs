//! A wsfn hook Lambda (docs/protocol.md §10) a team copies: one function
//! answers every hook, its rules in plain async fns over the app's own
//! DynamoDB table (`APP_TABLE`, string keys `pk`/`sk`):
//!
//! - `connect`: allows, with the member's display name as `info`;
//! - `subscribe`: a room with an item `{pk: <channel>, sk: "private"}` is
//!   for its members only, `{pk: <channel>, sk: "member#<user>"}`;
//! - `publish`: masks `BANNED_WORDS` (the message is rewritten) and keeps
//!   each message, `{pk: "msgs#<channel>", sk: "<ts>#<id>"}`;
//! - `rpc` `roomMembers` `{"room"}`: the room's members.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

/// What the rules need: the app's table and the words to mask.
#[derive(Debug, Clone)]
pub struct Rules {
    /// DynamoDB client.
    pub db: aws_sdk_dynamodb::Client,
    /// The app's table.
    pub table: String,
    /// Words masked in messages (lower case).
    pub banned: Vec<String>,
}

/// Why a hook could not answer (wsfn then refuses the action, `unavailable`).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Rules {
    async fn has(&self, pk: &str, sk: &str) -> Result<bool, Error> {
        let r = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await?;
        Ok(r.item.is_some())
    }

    /// Masks every banned word, keeping its length.
    pub fn filter(&self, text: &str) -> String {
        text.split(' ')
            .map(|w| {
                let bare: String = w
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
                    .to_lowercase();
                if self.banned.contains(&bare) {
                    "*".repeat(w.chars().count())
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    async fn subscribe(&self, user: &str, channel: &str) -> Result<Value, Error> {
        if self.has(channel, "private").await?
            && !self.has(channel, &format!("member#{user}")).await?
        {
            return Ok(
                json!({"allow": false, "code": "forbidden", "message": format!("{channel} is for its members")}),
            );
        }
        Ok(json!({"allow": true}))
    }

    async fn publish(&self, req: &Value) -> Result<Value, Error> {
        let Some(text) = req["data"]["text"].as_str() else {
            return Ok(
                json!({"allow": false, "code": "bad_request", "message": "a message is {\"text\": string}"}),
            );
        };
        let mut data = req["data"].clone();
        data["text"] = self.filter(text).into();
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let channel = req["channel"].as_str().unwrap_or_default();
        let id = req["id"].as_str().unwrap_or("-");
        self.db
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("msgs#{channel}")))
            .item("sk", s(format!("{ts:015}#{id}")))
            .item("user", s(req["user"].as_str().unwrap_or_default()))
            .item("data", s(data.to_string()))
            .send()
            .await?;
        Ok(json!({"allow": true, "data": data}))
    }

    async fn rpc(&self, req: &Value) -> Result<Value, Error> {
        if req["method"] != "roomMembers" {
            return Ok(
                json!({"error": {"code": "bad_request", "message": format!("no method {}", req["method"])}}),
            );
        }
        let room = req["data"]["room"].as_str().unwrap_or_default();
        let r = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :m)")
            .expression_attribute_values(":pk", s(room))
            .expression_attribute_values(":m", s("member#"))
            .send()
            .await?;
        let members: Vec<String> = r
            .items()
            .iter()
            .filter_map(|i| {
                i.get("sk")?
                    .as_s()
                    .ok()?
                    .strip_prefix("member#")
                    .map(str::to_string)
            })
            .collect();
        Ok(json!({"data": members}))
    }

    /// Answers one hook request.
    pub async fn handle(&self, req: &Value) -> Result<Value, Error> {
        let user = req["user"].as_str().unwrap_or_default();
        match req["hook"].as_str() {
            Some("connect") => {
                let name = req["claims"]["name"].as_str().unwrap_or(user);
                Ok(json!({"allow": true, "info": {"name": name}}))
            }
            Some("subscribe") => {
                self.subscribe(user, req["channel"].as_str().unwrap_or_default())
                    .await
            }
            Some("publish") => self.publish(req).await,
            Some("rpc") => self.rpc(req).await,
            other => Err(format!("unknown hook {other:?}").into()),
        }
    }
}
