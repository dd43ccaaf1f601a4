//! The store the functions share: the embedded one, or the template's table
//! created on DynamoDB (the functions maybe behind the fault proxy).

use std::sync::Arc;

use wsfn::store::{DynamoStore, MemoryStore, Store};

use super::Local;
use crate::template::ApiSpec;
use crate::{Options, StartError};

/// The store the functions share, and what tests and the banner see of it.
pub(super) struct Stores {
    pub(super) store: Arc<dyn Store>,
    pub(super) label: String,
    pub(super) memory: Option<Arc<MemoryStore>>,
    pub(super) dynamo_table: Option<(wsfn::aws_sdk_dynamodb::Client, String)>,
}

/// The embedded store, or the template's table created on DynamoDB.
pub(super) async fn build_store(
    spec: &ApiSpec,
    opts: &Options,
    sdk: &wsfn::aws_config::SdkConfig,
    process: &dyn Fn(&str) -> Option<String>,
    local: &Local,
) -> Result<Stores, StartError> {
    let Some(endpoint) = &opts.dynamodb_endpoint else {
        let m = Arc::new(MemoryStore::new());
        return Ok(Stores {
            store: m.clone(),
            label: "embedded (in memory; state is lost on exit)".into(),
            memory: Some(m),
            dynamo_table: None,
        });
    };
    let dynamo_error = |reason: String| StartError::Dynamo {
        endpoint: endpoint.clone(),
        reason,
    };
    let table = spec
        .routes
        .values()
        .find_map(|f| f.env.get("TABLE_NAME").cloned())
        .filter(|t| !t.is_empty())
        .or_else(|| spec.table.as_ref().map(|t| t.name.clone()))
        .unwrap_or_else(|| "wsfn".into());
    let table = process("TABLE_NAME").unwrap_or(table);
    if let Some(t) = &spec.table {
        if t.ttl_attribute.as_deref() != Some(wsfn::store::keys::TTL) {
            let logical_id = &t.logical_id;
            return Err(dynamo_error(format!(
                "table `{logical_id}` must enable TTL on attribute `ttl`"
            )));
        }
    }
    let conf = wsfn::aws_sdk_dynamodb::config::Builder::from(sdk)
        .endpoint_url(endpoint)
        .build();
    let client = wsfn::aws_sdk_dynamodb::Client::from_conf(conf);
    wsfn::store::create_table(&client, &table)
        .await
        .map_err(|e| dynamo_error(e.to_string()))?;
    let functions_client =
        wsfn::store::dynamo_client(sdk, Some(&local.functions_dynamodb(endpoint)));
    Ok(Stores {
        store: Arc::new(DynamoStore::new(functions_client, table.clone())),
        label: format!("DynamoDB at {endpoint}, table {table}"),
        memory: None,
        dynamo_table: Some((client, table)),
    })
}
