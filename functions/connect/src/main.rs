//! The `$connect` Lambda: wiring only; the handler is
//! `wsfn::handlers::connect`, run by `wsfn::lambda::run`.

use wsfn::{functions::Function, handlers};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), wsfn::lambda::Error> {
    wsfn::lambda::run(Function::Connect, handlers::connect).await
}
