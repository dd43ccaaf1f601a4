//! The backend's function (`PublishFunction`: publishing and the server API): wiring only; the handler is
//! `wsfn::handlers::backend`, run by `wsfn::lambda::run`.

use wsfn::{functions::Function, handlers};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), wsfn::lambda::Error> {
    wsfn::lambda::run(Function::Publish, handlers::backend).await
}
