//! The local Bedrock Runtime stand-in as a process, for runs outside `cargo test` (the CLI against
//! `BedrockChat`, benchmarks). Usage:
//!
//! ```text
//! bedrock-standin [--port N] [--default-answer TEXT] [--answer TEXT]... [--endpoint-file PATH]
//! ```
//! `--answer` queues answers served in order; then `--default-answer` answers everything.
//! Prints the endpoint on stdout and serves until killed.

use std::process::ExitCode;

use trailguard_testkit::BedrockStandIn;

struct Options {
    port: u16,
    default_answer: Option<String>,
    answers: Vec<String>,
    endpoint_file: Option<String>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        default_answer: None,
        answers: Vec::new(),
        endpoint_file: None,
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let text = value()?;
                options.port = text
                    .parse()
                    .map_err(|_| format!("--port {text:?} is not a port"))?;
            }
            "--default-answer" => options.default_answer = Some(value()?),
            "--answer" => options.answers.push(value()?),
            "--endpoint-file" => options.endpoint_file = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("bedrock-standin: {error}");
            eprintln!("usage: bedrock-standin [--port N] [--default-answer TEXT] [--answer TEXT]... [--endpoint-file PATH]");
            return ExitCode::from(2);
        }
    };
    let standin = match BedrockStandIn::start_on(options.port).await {
        Ok(standin) => standin,
        Err(error) => {
            eprintln!(
                "bedrock-standin: cannot listen on 127.0.0.1:{}: {error}",
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    for answer in options.answers {
        standin.push_text(answer);
    }
    if let Some(answer) = options.default_answer {
        standin.set_default_text(answer);
    }
    let endpoint = standin.endpoint();
    if let Some(path) = &options.endpoint_file {
        if let Err(error) = std::fs::write(path, format!("{endpoint}\n")) {
            eprintln!("bedrock-standin: writing {path}: {error}");
            return ExitCode::FAILURE;
        }
    }
    println!("{endpoint}");
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
