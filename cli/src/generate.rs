//! `avatarium generate man|bash|zsh|fish` (hidden): the man page and shell completions,
//! written from the same clap definition as the parser, so they cannot drift from it.
//! scripts/dist.sh puts them in the CLI tarball.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, ValueEnum};
use clap_complete::{Generator, Shell};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Artifact {
    /// The man page (roff), for `man 1 avatarium`.
    Man,
    Bash,
    Zsh,
    Fish,
}

pub fn run<C: CommandFactory>(what: Artifact) -> ExitCode {
    let mut command = C::command();
    let mut out = io::stdout().lock();
    let written = match what {
        Artifact::Man => clap_mangen::Man::new(command).render(&mut out),
        Artifact::Bash => complete(Shell::Bash, &mut command, &mut out),
        Artifact::Zsh => complete(Shell::Zsh, &mut command, &mut out),
        Artifact::Fish => complete(Shell::Fish, &mut command, &mut out),
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avatarium: cannot write: {e}");
            ExitCode::from(2)
        }
    }
}

/// `clap_complete::generate` without its panic on a write error (a closed pipe).
fn complete(shell: Shell, command: &mut clap::Command, out: &mut impl Write) -> io::Result<()> {
    let name = command.get_name().to_owned();
    command.set_bin_name(name);
    command.build();
    shell.try_generate(command, out)
}
