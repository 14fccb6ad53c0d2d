//! `meshtls completions bash|zsh|fish` and `meshtls man`: shell completion scripts and the man
//! pages, generated from the same clap definition that parses the command line, so they never
//! drift from the flags the binary accepts. The release tarball ships their output.

use std::path::PathBuf;

use clap::{Args, CommandFactory, ValueEnum};
use meshtls_core::ErrorCode;

use crate::error::CliError;
use crate::output;

/// The shells `meshtls completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write meshtls.1 and one meshtls-<command>.1 page per subcommand into this directory
    /// (created if missing) instead of printing meshtls.1 on stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = crate::Cli::command();
    let mut buf = Vec::new();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "meshtls", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))
}

/// Prints the man page (roff) on stdout, or writes every page into `--out-dir`.
pub fn man(args: &ManArgs) -> Result<(), CliError> {
    let cmd = crate::Cli::command();
    match &args.out_dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| CliError::new(ErrorCode::Io, format!("man page: {e}")))?;
            output::print(&String::from_utf8_lossy(&buf))
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, &e))?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| CliError::io(dir, &e))
        }
    }
}
