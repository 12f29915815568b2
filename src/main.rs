use std::process::ExitCode;

use vouchsafe::{cli, telemetry};

fn main() -> ExitCode {
    let cli = cli::Cli::parse_args();
    telemetry::init_logs(&cli.settings.log);
    match actix_web::rt::System::new().block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
