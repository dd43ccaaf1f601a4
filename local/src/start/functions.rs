//! How the functions run and reach this gateway: their SDK clients and
//! environment, the invoker (in process, or the real binaries through the
//! Runtime API), and the dev token issuer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::stores::Stores;
use crate::invoker::{InProcessInvoker, Invoker};
use crate::template::{ApiSpec, FunctionSpec};
use crate::{dev, dynamo_faults, invoker, runtime_api, Options, StartError};

/// Where the functions reach this gateway: its address, region and
/// management endpoint, and whether DynamoDB goes through the fault proxy.
pub(super) struct Local {
    pub(super) addr: SocketAddr,
    pub(super) region: String,
    pub(super) management_endpoint: String,
    pub(super) faults: bool,
}

impl Local {
    /// The DynamoDB endpoint the functions use: the fault proxy, when on.
    pub(super) fn functions_dynamodb(&self, endpoint: &str) -> String {
        if self.faults {
            format!("http://{}{}", self.addr, dynamo_faults::PATH)
        } else {
            endpoint.to_string()
        }
    }

    /// Fan-out shards go through this gateway's Lambda Invoke API with the
    /// real Lambda client, as they go through Lambda's when deployed.
    pub(super) fn lambda_client(
        &self,
        sdk: &wsfn::aws_config::SdkConfig,
    ) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(sdk)
                .endpoint_url(format!("http://{}", self.addr))
                .build(),
        )
    }

    /// Events go to this gateway's PutEvents with the real EventBridge client.
    pub(super) fn events_client(
        &self,
        sdk: &wsfn::aws_config::SdkConfig,
    ) -> wsfn::aws_sdk_eventbridge::Client {
        wsfn::aws_sdk_eventbridge::Client::from_conf(
            wsfn::aws_sdk_eventbridge::config::Builder::from(sdk)
                .endpoint_url(format!("http://{}", self.addr))
                .build(),
        )
    }

    /// A function process's environment: the template's and the process's
    /// values, then this gateway's endpoints and the credentials.
    fn process_env(
        &self,
        f: &FunctionSpec,
        process: &dyn Fn(&str) -> Option<String>,
        table: Option<&String>,
        dynamo: Option<String>,
    ) -> HashMap<String, String> {
        let creds = |k: &str| std::env::var(k).unwrap_or_else(|_| "wsfnlocal".into());
        let (env, _) = invoker::function_env(f, process, &self.management_endpoint);
        let mut env: HashMap<String, String> = env.into_iter().collect();
        // Locally the secrets are in the environment, not in Secrets
        // Manager (the binaries refuse both at once).
        for (value, arn) in [
            ("JWT_SECRET", "JWT_SECRET_ARN"),
            ("HOOK_SECRET", "HOOK_SECRET_ARN"),
        ] {
            if env.get(value).is_some_and(|v| !v.is_empty()) {
                env.remove(arn);
            }
        }
        if let Some(table) = table {
            env.insert("TABLE_NAME".into(), table.clone());
        }
        let here = format!("http://{}", self.addr);
        env.insert("AWS_REGION".into(), self.region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), self.region.clone());
        env.insert("AWS_ACCESS_KEY_ID".into(), creds("AWS_ACCESS_KEY_ID"));
        let secret = creds("AWS_SECRET_ACCESS_KEY");
        env.insert("AWS_SECRET_ACCESS_KEY".into(), secret);
        if let Some(endpoint) = dynamo {
            env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint);
        }
        env.insert("AWS_ENDPOINT_URL_LAMBDA".into(), here.clone());
        env.insert("AWS_ENDPOINT_URL_EVENTBRIDGE".into(), here);
        env
    }
}

/// The invoker the gateway calls: wsfn's functions in process (the
/// application's own, such as a hook Lambda, as processes beside them), or
/// every function as its real binary through the Runtime API.
pub(super) async fn build_invoker(
    spec: &ApiSpec,
    opts: &Options,
    in_process: InProcessInvoker,
    stores: &Stores,
    local: &Local,
    process: &dyn Fn(&str) -> Option<String>,
) -> Result<
    (
        Arc<dyn Invoker>,
        Option<Arc<runtime_api::RuntimeApiInvoker>>,
    ),
    StartError,
> {
    let Some(rt) = &opts.runtime_api else {
        let app_functions = invoker::app_functions(spec);
        if app_functions.is_empty() {
            return Ok((Arc::new(in_process), None));
        }
        let dynamo = opts.dynamodb_endpoint.clone();
        let app: Vec<(FunctionSpec, HashMap<String, String>)> = app_functions
            .into_iter()
            .map(|f| {
                (
                    f.clone(),
                    local.process_env(f, process, None, dynamo.clone()),
                )
            })
            .collect();
        let ids = app.iter().map(|(f, _)| f.logical_id.clone()).collect();
        let binaries = runtime_api::default_binaries();
        let r = runtime_api::RuntimeApiInvoker::start(app, binaries, 4, opts.quiet, false)
            .await
            .map_err(StartError::RuntimeApi)?;
        let split = invoker::Split {
            wsfn: Arc::new(in_process),
            app: (ids, Arc::new(r)),
        };
        return Ok((Arc::new(split), None));
    };
    let Some((_, table)) = &stores.dynamo_table else {
        return Err(StartError::RuntimeApi(
            "needs --dynamodb-endpoint: function processes cannot share the embedded store".into(),
        ));
    };
    let endpoint = local.functions_dynamodb(opts.dynamodb_endpoint.as_deref().unwrap_or_default());
    let functions = spec
        .functions
        .values()
        .map(|f| {
            let env = local.process_env(f, process, Some(table), Some(endpoint.clone()));
            let mut f = f.clone();
            if let Some(t) = rt.timeout {
                f.timeout = t;
            }
            (f, env)
        })
        .collect();
    let r = runtime_api::RuntimeApiInvoker::start(
        functions,
        rt.binaries.clone(),
        rt.max_instances,
        opts.quiet,
        rt.cpu_share,
    )
    .await
    .map_err(StartError::RuntimeApi)?;
    let r = Arc::new(r);
    Ok((r.clone(), Some(r)))
}

pub(super) fn sdk_config(region: &str) -> wsfn::aws_config::SdkConfig {
    use wsfn::aws_sdk_dynamodb::config::{Credentials, Region};
    let creds = match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(k), Ok(s)) => Credentials::new(k, s, None, None, "environment"),
        _ => Credentials::new("wsfnlocal", "wsfnlocal", None, None, "wsfn-local"),
    };
    wsfn::aws_config::SdkConfig::builder()
        .behavior_version(wsfn::aws_config::BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(wsfn::aws_sdk_dynamodb::config::SharedCredentialsProvider::new(creds))
        .build()
}

/// How the functions' tokens are signed, when wsfn-local can sign them
/// (HS256 with `JWT_SECRET` or the dev secret).
pub(super) fn token_issuer(
    spec: &ApiSpec,
    process: &dyn Fn(&str) -> Option<String>,
    management_endpoint: &str,
) -> Option<dev::TokenIssuer> {
    // A function that verifies tokens (not the application's own).
    let f = spec.functions.values().find(|f| {
        wsfn::functions::Function::from_binary(&f.binary).is_some_and(|k| k.verifies_tokens())
    })?;
    let (env, _) = invoker::function_env(f, process, management_endpoint);
    let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
    if get("JWT_PUBLIC_KEY").is_some() || get("JWT_JWKS_URL").is_some() {
        return None;
    }
    Some(dev::TokenIssuer {
        secret: get("JWT_SECRET")?,
        issuer: get("JWT_ISSUER"),
        audience: get("JWT_AUDIENCE"),
    })
}
