//! Evaluates one expression: `cargo run -p trailguard-jsonata --example jsonata_eval -- EXPR [JSON]`.

#![allow(clippy::result_large_err)]

use trailguard_jsonata::{Environment, Expression};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let expr = args.get(1).ok_or("usage: jsonata_eval EXPR [JSON]")?;
    let input: Option<serde_json::Value> = match args.get(2) {
        Some(j) => Some(serde_json::from_str(j).map_err(|e| e.to_string())?),
        None => None,
    };
    let env = if std::env::var("JSONATA_AWS").is_ok() {
        Environment::step_functions()
    } else {
        Environment::new()
    };
    match Expression::parse(expr).and_then(|e| e.evaluate(input.as_ref(), &env)) {
        Ok(Some(v)) => println!("{v}"),
        Ok(None) => println!("undefined"),
        Err(e) => println!("error {e:?}"),
    }
    Ok(())
}
