//! The fan-out shard Lambda (`FanoutFunction`): wiring only; the handler is
//! `wsfn::handlers::fanout`, run by `wsfn::lambda::run`.

use wsfn::{functions::Function, handlers};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), wsfn::lambda::Error> {
    wsfn::lambda::run(Function::Fanout, handlers::fanout).await
}
