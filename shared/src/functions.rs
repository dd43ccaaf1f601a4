//! The five Lambda functions: which binary each is, whether it verifies
//! tokens (and so needs the signing key), and the AWS API actions its code
//! calls. That table is what each function's IAM policy in `template.yaml`
//! must grant — no more, no less: `local/tests/deploy_checks.rs` compares
//! the template with it, and `shared/tests/iam.rs` runs every function's
//! paths and compares the calls they make with it.

/// One of the Lambda functions of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// `$connect`: verifies the token, registers the connection.
    Connect,
    /// `$disconnect`: removes the connection and its subscriptions.
    Disconnect,
    /// `$default`: every client frame.
    Message,
    /// Server publishes, invoked by backends with IAM.
    Publish,
    /// Shards of a big channel's fan-out, invoked asynchronously.
    Fanout,
}

/// DynamoDB actions every function needs to find and remove a connection
/// that is gone (a push answered 410): its subscriptions (Query), their
/// items (BatchWriteItem), its record (DeleteItem) and its slot in the
/// user's set (UpdateItem).
const CLEANUP: [&str; 4] = [
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
];

impl Function {
    /// Every function.
    pub const ALL: [Function; 5] = [
        Self::Connect,
        Self::Disconnect,
        Self::Message,
        Self::Publish,
        Self::Fanout,
    ];

    /// The function named by its Cargo binary (`Metadata.BuildProperties.Binary`).
    pub fn from_binary(binary: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.binary() == binary)
    }

    /// Its Cargo binary.
    pub fn binary(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
            Self::Message => "message",
            Self::Publish => "publish",
            Self::Fanout => "fanout",
        }
    }

    /// Whether it verifies tokens: only these get the key (`JWT_*`) and may
    /// read the signing secret.
    pub fn verifies_tokens(self) -> bool {
        matches!(self, Self::Connect | Self::Message)
    }

    /// The AWS API actions its code calls (IAM names; a DynamoDB
    /// transaction needs the action of each item it holds), sorted. Reading
    /// the signing secret (`secretsmanager:GetSecretValue`, hs256 mode) and
    /// what the runtime itself needs (logs, X-Ray, the fan-out dead-letter
    /// queue) are not listed: the template grants those by mode and by
    /// SAM's own policies.
    pub fn actions(self) -> Vec<&'static str> {
        let mut a: Vec<&'static str> = match self {
            // Registers (a transaction: Put record and personal
            // subscription, Update the user's set); at the per-user limit
            // reads the holders' records, asks the management API which are
            // gone and removes them.
            Self::Connect => vec![
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "execute-api:ManageConnections",
            ],
            // Removes the connection; the `leave`s it causes on
            // PRESENCE_EVENTS channels (member set, then a push to each
            // subscriber).
            Self::Disconnect => vec!["execute-api:ManageConnections"],
            // Every action: the caller's record (GetItem), rate state,
            // subscriptions (a transaction with ConditionCheck on the
            // personal channel), the stream (PutItem of a new head,
            // transactions with Put/Update/Delete), history and presence
            // (Query), pushes, and shards of big channels.
            Self::Message => vec![
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "execute-api:ManageConnections",
                "lambda:InvokeFunction",
            ],
            // Appends to streams (as a publish frame does) and pushes; the
            // server API's operations: the user's set and records (GetItem),
            // revocation (UpdateItem), subscriptions (transactions),
            // presence and history (Query), DeleteConnection.
            Self::Publish => vec![
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "execute-api:ManageConnections",
                "lambda:InvokeFunction",
            ],
            // Reads one range of subscribers, pushes, splits further.
            Self::Fanout => vec!["execute-api:ManageConnections", "lambda:InvokeFunction"],
        };
        a.extend(CLEANUP);
        a.sort_unstable();
        a.dedup();
        a
    }
}

#[cfg(test)]
mod tests {
    use super::Function;

    #[test]
    fn binaries_round_trip() {
        for f in Function::ALL {
            assert_eq!(Function::from_binary(f.binary()), Some(f));
        }
        assert_eq!(Function::from_binary("nope"), None);
    }
}
