//! Connect/disconnect churn, and the items it leaves behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::Semaphore;

use wsfn_local::Running;

use crate::*;

/// Result of a churn run.
#[derive(Debug, Clone)]
pub struct ChurnResult {
    /// Connections opened and closed.
    pub connections: usize,
    /// `$connect` + `$disconnect` pairs per second.
    pub per_second: f64,
    /// Items or entries left in the store afterwards (should be 0).
    pub leftovers: usize,
}

/// Opens and closes `n` connections (`parallel` at a time) and checks that
/// nothing of them is left in the store.
pub async fn churn(
    running: &Running,
    n: usize,
    parallel: usize,
) -> Result<ChurnResult, BenchError> {
    let url = running.ws_url();
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let started = Instant::now();
    let mut joins = Vec::with_capacity(n);
    for i in 0..n {
        let (url, gate) = (url.clone(), gate.clone());
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| fail("gate", e))?;
            let mut ws = open(&url, &token(&format!("churn{i}"), &[], &[])).await?;
            ws.close(None).await.map_err(|e| fail("close", e))?;
            // Drain until the gateway confirms the close.
            while let Some(Ok(_)) = ws.next().await {}
            Ok::<(), BenchError>(())
        }));
    }
    for j in joins {
        j.await.map_err(|e| fail("join", e))??;
    }
    // Every $disconnect has finished once the gateway has no session left
    // (a socket leaves the connection map before its $disconnect runs).
    let settle = Instant::now();
    while running.gateway.sessions() > 0 && settle.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    Ok(ChurnResult {
        connections: n,
        per_second: n as f64 / elapsed.as_secs_f64().max(1e-9),
        leftovers: leftovers(running).await?,
    })
}

/// Store entries that belong to connections (0 when cleanup is complete).
pub async fn leftovers(running: &Running) -> Result<usize, BenchError> {
    running
        .connection_items()
        .await
        .map_err(|e| fail("scan", e))
}
