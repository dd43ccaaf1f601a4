//! The `$default` route Lambda (every client frame): wiring only; the handler is
//! `wsfn::handlers::message`, run by `wsfn::lambda::run`.

use wsfn::{functions::Function, handlers};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), wsfn::lambda::Error> {
    wsfn::lambda::run(Function::Message, handlers::message).await
}
